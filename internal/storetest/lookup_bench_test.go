package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user/usertest"
)

// BenchmarkLookup measures the store reads behind every authenticated
// request (Sessions.UserSession; ByID alone for comparison) and every
// login (Users.ByEmail, Users.ByUsername), on each store with 1,000 users
// with a session each, one at a time and GOMAXPROCS at once.
func BenchmarkLookup(b *testing.B) {
	const users = 1000
	for _, s := range All() {
		b.Run(s.Name, func(b *testing.B) {
			stores := s.Open(b).Stores()
			ids, sids := make([]uuid.UUID, users), make([]uuid.UUID, users)
			for i := range ids {
				u, err := stores.Users.Create(b.Context(), usertest.NewUser(i))
				if err != nil {
					b.Fatal(err)
				}
				sess, rt := usertest.NewSession(u.ID, time.Now())
				if err := stores.Sessions.Create(b.Context(), sess, rt); err != nil {
					b.Fatal(err)
				}
				ids[i], sids[i] = u.ID, sess.ID
			}
			lookups := []struct {
				name string
				get  func(i int) error
			}{
				{"ByID", func(i int) error { _, err := stores.Users.ByID(b.Context(), ids[i%users]); return err }},
				{"UserSession", func(i int) error {
					_, _, err := stores.Sessions.UserSession(b.Context(), ids[i%users], sids[i%users])
					return err
				}},
				{"ByEmail", func(i int) error {
					_, err := stores.Users.ByEmail(b.Context(), fmt.Sprintf("USER%d@example.com", i%users))
					return err
				}},
				{"ByUsername", func(i int) error {
					_, err := stores.Users.ByUsername(b.Context(), fmt.Sprintf("User%d", i%users))
					return err
				}},
			}
			for _, l := range lookups {
				b.Run(l.name+"/serial", func(b *testing.B) {
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						if err := l.get(i); err != nil {
							b.Fatal(err)
						}
						i++
					}
				})
				b.Run(l.name+"/parallel", func(b *testing.B) {
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						i := 0
						for pb.Next() {
							if err := l.get(i); err != nil {
								b.Error(err)
								return
							}
							i++
						}
					})
				})
			}
		})
	}
}
