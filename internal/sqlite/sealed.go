package sqlite

import (
	"context"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/webhook"
)

// sealedColumn is a column of values sealed under the key-encryption key,
// for `usersvc keys reseal`: list reads (key, extra, sealed) rows whose key
// follows ?1 (?2 at most, in key order), replace sets ?3 where the row of
// key ?1 still holds ?2, ad is the associated data of a row's value.
type sealedColumn struct {
	db            *DB
	list, replace string
	ad            func(key, extra string) []byte
}

// SealedColumns are every column of the database sealed under the
// key-encryption key (the job queue's queued mail is the jobs package's).
func (s *DB) SealedColumns() []signing.SealedKind {
	const (
		keysList      = `SELECT kid, alg, private_key FROM signing_keys WHERE kid > ?1 ORDER BY kid LIMIT ?2`
		keysReplace   = `UPDATE signing_keys SET private_key = ?3 WHERE kid = ?1 AND private_key = ?2`
		hooksList     = `SELECT id, '', secret FROM webhook_endpoints WHERE id > ?1 ORDER BY id LIMIT ?2`
		hooksReplace  = `UPDATE webhook_endpoints SET secret = ?3 WHERE id = ?1 AND secret = ?2`
		prevList      = `SELECT id, '', previous_secret FROM webhook_endpoints WHERE id > ?1 AND previous_secret IS NOT NULL ORDER BY id LIMIT ?2`
		prevReplace   = `UPDATE webhook_endpoints SET previous_secret = ?3 WHERE id = ?1 AND previous_secret = ?2`
		totpList      = `SELECT user_id, '', secret FROM mfa_totp WHERE user_id > ?1 ORDER BY user_id LIMIT ?2`
		totpReplace   = `UPDATE mfa_totp SET secret = ?3 WHERE user_id = ?1 AND secret = ?2`
		serviceList   = `SELECT CAST(id AS TEXT), '', sealed FROM service_key WHERE id > CAST(?1 AS INTEGER) ORDER BY id LIMIT ?2`
		serviceReplac = `UPDATE service_key SET sealed = ?3 WHERE id = CAST(?1 AS INTEGER) AND sealed = ?2`
	)
	return []signing.SealedKind{
		{Name: signing.KindSigningKeys, Column: &sealedColumn{s, keysList, keysReplace, signing.KeyData}},
		{Name: signing.KindServiceKey, Column: &sealedColumn{s, serviceList, serviceReplac, serviceKeyAD}},
		{Name: signing.KindWebhookSecrets, Column: &sealedColumn{s, hooksList, hooksReplace, webhookAD}},
		{Name: signing.KindPreviousWebhookSecrets, Column: &sealedColumn{s, prevList, prevReplace, webhookAD}},
		{Name: signing.KindTOTPSecrets, Column: &sealedColumn{s, totpList, totpReplace, totpAD}},
	}
}

func serviceKeyAD(string, string) []byte { return signing.PurposeData(signing.ServiceKeyPurpose) }

// webhookAD and totpAD bind to a row's id; an id that is not a UUID
// (never written by the service) gets one no value opens with.
func webhookAD(key, _ string) []byte { return webhook.SecretAD(parseOrNil(key)) }

func totpAD(key, _ string) []byte { return user.TOTPSecretAD(parseOrNil(key)) }

func parseOrNil(key string) uuid.UUID {
	id, err := uuid.Parse(key)
	if err != nil {
		return uuid.Nil
	}
	return id
}

// SealedAfter reads up to limit rows after the key after. It reads on the
// writer connection, which Reseal writes on.
func (c *sealedColumn) SealedAfter(ctx context.Context, after string, limit int) ([]signing.SealedRow, error) {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	rows, err := c.db.write.QueryContext(ctx, c.list, after, limit)
	if err != nil {
		return nil, translate(err, "read sealed values")
	}
	defer rows.Close()
	var out []signing.SealedRow
	for rows.Next() {
		var r signing.SealedRow
		var extra string
		if err := rows.Scan(&r.Key, &extra, &r.Sealed); err != nil {
			return nil, translate(err, "read sealed values")
		}
		r.AD = c.ad(r.Key, extra)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "read sealed values")
	}
	return out, nil
}

// Reseal replaces row's value with next if it is still row.Sealed.
func (c *sealedColumn) Reseal(ctx context.Context, row signing.SealedRow, next []byte) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	res, err := c.db.write.ExecContext(ctx, c.replace, row.Key, row.Sealed, next)
	return wroteOne(res, err, "reseal")
}
