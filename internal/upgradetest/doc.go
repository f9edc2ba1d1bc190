// Package upgradetest runs usersvc's binaries across a release boundary, as
// a blue/green deployment does:
//
//   - the previous release, built from git, serving a database migrated by
//     the current code, after each new migration in turn, so that a failure
//     names the first migration that breaks it;
//   - the previous release and the current code serving one database at
//     once, requests alternating between them;
//   - `usersvc migrate down` of the migrations newer than the previous
//     release, and the previous release serving the result;
//   - replicas started together on an empty database, all of them serving.
//
// The previous release is the newest v* tag reachable from HEAD (other than
// HEAD's own), else the tag and commit named in .ci/previous-release. The
// package has tests only; they build the binaries (once per process) and run
// only with USERSVC_TEST_UPGRADE=1, which `make upgradetest` sets.
package upgradetest
