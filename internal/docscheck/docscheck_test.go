package docscheck_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/usersvc/usersvc/internal/docscheck"
)

// TestRepositoryDocs runs every check on this repository (`make docscheck`).
func TestRepositoryDocs(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		t.Skipf("not a git checkout (%v): the docs check needs git to list the repository's files", err)
	}
	fsys, err := docscheck.RepoFS(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	problems, err := docscheck.Check(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// fixture is a small repository: a README with a configuration table, a
// document under docs/, and code reading settings.
func fixture() fstest.MapFS {
	return fstest.MapFS{
		"README.md": {Data: []byte("# app\n\nSee [deploying](docs/deploy.md), [the API](#the-api-v1) and [Go](https://go.dev).\n" +
			"The code is in `internal/config`; `bin/app` and `./data` are made at run time.\n\n" +
			"```sh\ncat docs/not-checked-in-a-fence.md\n```\n\n" +
			"## Configuration\n\n| variable | meaning |\n| --- | --- |\n" +
			"| `APP_DATABASE_URL` | the database |\n| `USERSVC_ADDR` | listen address |\n" +
			"| `USERSVC_SECRET` | a secret (also read from the file named by `_FILE`) |\n\n" +
			"## Next\n\n| `USERSVC_NOT_A_SETTING` | a table of another section |\n\n## The `API`: v1\n")},
		"docs/deploy.md":               {Data: []byte("# Deploy\n\nBack to the [README](../README.md#configuration); `deploy.yml` runs it.\n")},
		".github/workflows/deploy.yml": {},
		"internal/config/config.go": {Data: []byte("package config\n\n" +
			"type Config struct {\n\tDB string `env:\"APP_DATABASE_URL\"`\n\tAddr string `env:\"USERSVC_ADDR\" envDefault:\":8080\"`\n" +
			"\tSecret string `env:\"USERSVC_SECRET,unset\"`\n\tSecretFile string `env:\"USERSVC_SECRET_FILE\"`\n}\n")},
		"internal/config/config_test.go": {Data: []byte("package config\n\nimport \"os\"\n\nvar _ = os.Getenv(\"USERSVC_TEST_ONLY\")\n")},
		"internal/apptest/apptest.go":    {Data: []byte("package apptest\n\nimport \"os\"\n\nvar _ = os.Getenv(\"USERSVC_TEST_SERVER\")\n")},
	}
}

// check runs the checks on fsys and returns the problems as text.
func check(t *testing.T, fsys fstest.MapFS) []string {
	t.Helper()
	problems, err := docscheck.Check(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range problems {
		out = append(out, p.String())
	}
	return out
}

func TestFixtureIsClean(t *testing.T) {
	if got := check(t, fixture()); len(got) != 0 {
		t.Errorf("problems in the clean fixture: %q, want none", got)
	}
}

func TestProblemsFound(t *testing.T) {
	for _, tt := range []struct {
		name   string
		file   string // changed (or added, or removed with remove)
		data   string
		remove bool
		want   string // one problem, exactly
	}{
		{name: "dangling link", file: "docs/deploy.md", data: "See [the runbook](runbook.md).\n",
			want: "docs/deploy.md:1: link to runbook.md: docs/runbook.md is not in the repository"},
		{name: "dangling anchor", file: "docs/deploy.md", data: "# Deploy\n\nSee [the settings](../README.md#settings) and [above](#deploy).\n",
			want: "docs/deploy.md:3: link to ../README.md#settings: README.md has no heading with the anchor #settings"},
		{name: "link out of the repository", file: "docs/deploy.md", data: "See [up](../../x.md).\n",
			want: "docs/deploy.md:1: link to ../../x.md leaves the repository"},
		{name: "the linked file removed", file: "docs/deploy.md", remove: true,
			want: "README.md:3: link to docs/deploy.md: docs/deploy.md is not in the repository"},
		{name: "missing path in a code span", file: "docs/deploy.md", data: "Run `internal/config/missing.go`.\n",
			want: "docs/deploy.md:1: path internal/config/missing.go is not in the repository"},
		{name: "glob that matches nothing", file: "docs/deploy.md", data: "Every `internal/*/migrations` folder.\n",
			want: "docs/deploy.md:1: path internal/*/migrations is not in the repository"},
		{name: "missing bare file name", file: "docs/deploy.md", data: "See `compose-readme-section.md`.\n",
			want: "docs/deploy.md:1: file compose-readme-section.md is in no directory of the repository"},
		{name: "undocumented variable", file: "internal/config/more.go",
			data: "package config\n\ntype More struct{ Ops string `env:\"USERSVC_OPS_ADDR\"` }\n",
			want: "internal/config/more.go: USERSVC_OPS_ADDR is read here but not in the configuration table of README.md"},
		{name: "undocumented variable read by Getenv through a constant", file: "cmd/app/main.go",
			data: "package main\n\nimport \"os\"\n\nconst envDocs = \"USERSVC_DOCS\"\n\nfunc main() { _ = os.Getenv(envDocs) }\n",
			want: "cmd/app/main.go: USERSVC_DOCS is read here but not in the configuration table of README.md"},
		{name: "variable no code reads", file: "internal/config/config.go",
			data: "package config\n\ntype Config struct {\n\tDB string `env:\"APP_DATABASE_URL\"`\n\tSecret string `env:\"USERSVC_SECRET\"`\n}\n",
			want: "README.md:15: USERSVC_ADDR is in the configuration table but no code under cmd/, internal/ reads it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fixture()
			if tt.remove {
				delete(fsys, tt.file)
			} else {
				fsys[tt.file] = &fstest.MapFile{Data: []byte(tt.data)}
			}
			if got := check(t, fsys); len(got) != 1 || got[0] != tt.want {
				t.Errorf("problems = %q, want exactly %q", got, tt.want)
			}
		})
	}
}

// TestFileVariantNeedsTheRule checks the _FILE rule: USERSVC_SECRET_FILE is
// documented by the row of USERSVC_SECRET only while that row says _FILE.
func TestFileVariantNeedsTheRule(t *testing.T) {
	fsys := fixture()
	readme := string(fsys["README.md"].Data)
	fsys["README.md"].Data = []byte(strings.Replace(readme, " (also read from the file named by `_FILE`)", "", 1))
	want := "internal/config/config.go: USERSVC_SECRET_FILE is read here but not in the configuration table of README.md"
	if got := check(t, fsys); len(got) != 1 || got[0] != want {
		t.Errorf("without _FILE in the row: problems = %q, want exactly %q", got, want)
	}
	fsys["README.md"].Data = []byte(strings.Replace(string(fsys["README.md"].Data), "## Next",
		"Each secret (`USERSVC_SECRET`) can instead be read from a file named by `NAME_FILE`.\n\n## Next", 1))
	if got := check(t, fsys); len(got) != 0 {
		t.Errorf("with a paragraph saying _FILE: problems = %q, want none", got)
	}
}

func TestNoConfigurationSection(t *testing.T) {
	fsys := fixture()
	fsys["README.md"] = &fstest.MapFile{Data: []byte("# app\n")}
	if _, err := docscheck.Check(fsys); err == nil || !strings.Contains(err.Error(), "Configuration") {
		t.Errorf("Check without a Configuration section: error %v, want one naming the section", err)
	}
}
