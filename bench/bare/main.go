// Command bare is the reference for GET /api/v1/users/me: only the
// unavoidable work (parse the bearer token, verify its HS256 signature, one
// primary-key lookup through a pgx pool, encode JSON), against the same
// database and tokens as usersvc. The load test measures it in the same run
// as the floor usersvc's throughput is compared with.
package main

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

type profile struct {
	ID        uuid.UUID `json:"id"`
	Email     string    `json:"email"`
	Username  string    `json:"username"`
	FullName  *string   `json:"full_name"`
	IsActive  bool      `json:"is_active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func main() {
	pool, err := pgxpool.New(context.Background(), os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	secret := []byte(os.Getenv("USERSVC_JWT_SECRET"))
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	key := func(*jwt.Token) (any, error) { return secret, nil }
	http.HandleFunc("GET /api/v1/users/me", func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		var c jwt.RegisteredClaims
		if _, err := parser.ParseWithClaims(raw, &c, key); !ok || err != nil {
			http.Error(w, `{"detail":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		var p profile
		err := pool.QueryRow(r.Context(), `SELECT id, email, username, full_name, is_active, created_at, updated_at
			FROM users WHERE id = $1`, c.Subject).
			Scan(&p.ID, &p.Email, &p.Username, &p.FullName, &p.IsActive, &p.CreatedAt, &p.UpdatedAt)
		if err != nil {
			http.Error(w, `{"detail":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p)
	})
	addr := os.Getenv("BARE_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8081"
	}
	log.Fatal(http.ListenAndServe(addr, nil))
}
