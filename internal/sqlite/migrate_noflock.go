//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package sqlite

import "os"

// tryLockFile does not lock where there is no flock(2) (Windows, for
// development): there, start one process at a time on a new database.
func tryLockFile(*os.File) (ok bool, err error) { return true, nil }

// unlockFile has nothing to release.
func unlockFile(*os.File) error { return nil }
