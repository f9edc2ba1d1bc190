// Package breached knows the most common passwords seen in breaches, so
// that none of them can be chosen (NIST SP 800-63B 5.1.1.2).
//
// common-passwords.txt.gz holds the 49,233 passwords of the zxcvbn-ts
// common dictionary (npm @zxcvbn-ts/language-common 4.1.3,
// src/passwords.json, MIT licence: see LICENSE), one a line, most common
// first. They are lower-case; a password is compared lower-cased, so
// "Password1" is refused with "password1".
package breached

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"strings"
	"sync"
)

//go:embed common-passwords.txt.gz
var listGz []byte

// set is the list, decompressed on first use.
var set = sync.OnceValue(func() map[string]struct{} {
	zr, err := gzip.NewReader(bytes.NewReader(listGz))
	if err != nil {
		panic("breached: embedded list: " + err.Error())
	}
	m := make(map[string]struct{}, 50_000)
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if w := sc.Text(); w != "" {
			m[w] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		panic("breached: embedded list: " + err.Error())
	}
	return m
})

// Contains reports whether password, lower-cased, is on the list.
func Contains(password string) bool {
	_, ok := set()[strings.ToLower(password)]
	return ok
}

// Len is the number of passwords on the list.
func Len() int { return len(set()) }
