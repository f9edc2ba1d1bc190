package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/user/usertest"
)

// BenchmarkLookup measures the repository reads behind every authenticated
// request (UserSession; before it, ByID then Session) and every login
// (ByEmail, ByUsername), on each store with 1,000 users with a session
// each, one at a time and GOMAXPROCS at once.
func BenchmarkLookup(b *testing.B) {
	const users = 1000
	for _, s := range All() {
		b.Run(s.Name, func(b *testing.B) {
			repo := s.Open(b)
			ids, sids := make([]uuid.UUID, users), make([]uuid.UUID, users)
			for i := range ids {
				u, err := repo.Create(b.Context(), usertest.NewUser(i))
				if err != nil {
					b.Fatal(err)
				}
				sess, rt := usertest.NewSession(u.ID, time.Now())
				if err := repo.CreateSession(b.Context(), sess, rt); err != nil {
					b.Fatal(err)
				}
				ids[i], sids[i] = u.ID, sess.ID
			}
			lookups := []struct {
				name string
				get  func(i int) error
			}{
				{"ByID", func(i int) error { _, err := repo.ByID(b.Context(), ids[i%users]); return err }},
				{"ByIDThenSession", func(i int) error {
					if _, err := repo.ByID(b.Context(), ids[i%users]); err != nil {
						return err
					}
					_, err := repo.Session(b.Context(), ids[i%users], sids[i%users])
					return err
				}},
				{"UserSession", func(i int) error {
					_, _, err := repo.UserSession(b.Context(), ids[i%users], sids[i%users])
					return err
				}},
				{"ByEmail", func(i int) error {
					_, err := repo.ByEmail(b.Context(), fmt.Sprintf("USER%d@example.com", i%users))
					return err
				}},
				{"ByUsername", func(i int) error {
					_, err := repo.ByUsername(b.Context(), fmt.Sprintf("User%d", i%users))
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
