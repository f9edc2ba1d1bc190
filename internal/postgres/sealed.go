package postgres

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/usersvc/usersvc/internal/signing"
	"github.com/usersvc/usersvc/internal/user"
	"github.com/usersvc/usersvc/internal/webhook"
)

// sealedColumn is a column of values sealed under the key-encryption key,
// for `usersvc keys reseal`: list reads (key, extra, sealed) rows whose key
// follows $1 ($2 at most, in key order), replace sets $3 where the row of
// key $1 still holds $2, ad is the associated data of a row's value.
type sealedColumn struct {
	db            *DB
	first         string // the key before every row's
	list, replace string
	ad            func(key, extra string) []byte
}

// SealedColumns are every column of the database sealed under the
// key-encryption key (the job queue's queued mail is the jobs package's).
func (s *DB) SealedColumns() []signing.SealedKind {
	const (
		keysList      = `SELECT kid, alg, private_key FROM signing_keys WHERE kid > $1 ORDER BY kid LIMIT $2`
		keysReplace   = `UPDATE signing_keys SET private_key = $3 WHERE kid = $1 AND private_key = $2`
		hooksList     = `SELECT id::text, '', secret FROM webhook_endpoints WHERE id > $1::uuid ORDER BY id LIMIT $2`
		hooksReplace  = `UPDATE webhook_endpoints SET secret = $3 WHERE id = $1::uuid AND secret = $2`
		prevList      = `SELECT id::text, '', previous_secret FROM webhook_endpoints WHERE id > $1::uuid AND previous_secret IS NOT NULL ORDER BY id LIMIT $2`
		prevReplace   = `UPDATE webhook_endpoints SET previous_secret = $3 WHERE id = $1::uuid AND previous_secret = $2`
		totpList      = `SELECT user_id::text, '', secret FROM mfa_totp WHERE user_id > $1::uuid ORDER BY user_id LIMIT $2`
		totpReplace   = `UPDATE mfa_totp SET secret = $3 WHERE user_id = $1::uuid AND secret = $2`
		serviceList   = `SELECT id::text, '', sealed FROM service_key WHERE id > $1::smallint ORDER BY id LIMIT $2`
		serviceReplac = `UPDATE service_key SET sealed = $3 WHERE id = $1::smallint AND sealed = $2`
	)
	nilID := uuid.Nil.String()
	return []signing.SealedKind{
		{Name: signing.KindSigningKeys, Column: &sealedColumn{s, "", keysList, keysReplace, signing.KeyData}},
		{Name: signing.KindServiceKey, Column: &sealedColumn{s, "0", serviceList, serviceReplac, serviceKeyAD}},
		{Name: signing.KindWebhookSecrets, Column: &sealedColumn{s, nilID, hooksList, hooksReplace, webhookAD}},
		{Name: signing.KindPreviousWebhookSecrets, Column: &sealedColumn{s, nilID, prevList, prevReplace, webhookAD}},
		{Name: signing.KindTOTPSecrets, Column: &sealedColumn{s, nilID, totpList, totpReplace, totpAD}},
	}
}

func serviceKeyAD(string, string) []byte { return signing.PurposeData(signing.ServiceKeyPurpose) }

func webhookAD(key, _ string) []byte { return webhook.SecretAD(uuid.MustParse(key)) }

func totpAD(key, _ string) []byte { return user.TOTPSecretAD(uuid.MustParse(key)) }

// SealedAfter reads up to limit rows after the key after.
func (c *sealedColumn) SealedAfter(ctx context.Context, after string, limit int) ([]signing.SealedRow, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	if after == "" {
		after = c.first
	}
	rows, err := c.db.pool.Query(ctx, c.list, after, limit)
	if err != nil {
		return nil, translate(err, "read sealed values")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (signing.SealedRow, error) {
		var r signing.SealedRow
		var extra string
		err := row.Scan(&r.Key, &extra, &r.Sealed)
		r.AD = c.ad(r.Key, extra)
		return r, err
	})
	if err != nil {
		return nil, translate(err, "read sealed values")
	}
	return out, nil
}

// Reseal replaces row's value with next if it is still row.Sealed.
func (c *sealedColumn) Reseal(ctx context.Context, row signing.SealedRow, next []byte) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, queryWait)
	defer cancel()
	tag, err := c.db.pool.Exec(ctx, c.replace, row.Key, row.Sealed, next)
	if err != nil {
		return false, translate(err, "reseal")
	}
	return tag.RowsAffected() == 1, nil
}
