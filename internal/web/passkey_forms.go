package web

import (
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/passkey"
)

// passkeyRow is one passkey of the list with its Rename and Remove forms:
// the one posted, when refused, shows its error on its field.
type passkeyRow struct {
	passkey.Passkey
	Rename, Remove *form
}

// passkeyRows are keys' rows, each with its forms as a GET shows them.
func passkeyRows(keys []passkey.Passkey) []passkeyRow {
	rows := make([]passkeyRow, len(keys))
	for i, k := range keys {
		rows[i] = passkeyRow{Passkey: k, Rename: renamePasskeyForm(k), Remove: removePasskeyForm(k)}
	}
	return rows
}

// The forms of passkey k. Every passkey has both, so their inputs' ids
// carry k's; the template names k on their buttons.
func renamePasskeyForm(k passkey.Passkey) *form {
	id := k.ID.String()
	name := &field{Name: "name", Type: "text", Autocomplete: "off", Label: "passkeys.new_name",
		Value: k.Name, ID: "rename-" + id, MaxLength: passkey.MaxName}
	return &form{Action: passkeyPath(k.ID, "rename"), Submit: "passkeys.rename", Fields: []*field{name}}
}

func removePasskeyForm(k passkey.Passkey) *form {
	id := k.ID.String()
	pw := passwordField("")
	pw.ID = "remove-password-" + id
	return &form{Action: passkeyPath(k.ID, "remove"), Submit: "passkeys.remove",
		Fields: []*field{pw}, Danger: true}
}

// passkeyPath is the path of action (rename, remove) on passkey id.
func passkeyPath(id uuid.UUID, action string) string {
	return passkeysPath + "/" + id.String() + "/" + action
}

// passkeyPost is the form a POST came from: passkey id's Remove or
// Rename, with the name typed in the latter.
type passkeyPost struct {
	id     uuid.UUID
	remove bool
	name   string
}

// formIn is the posted form among rows, holding the name typed (nil when
// the passkey is not listed).
func (pp passkeyPost) formIn(rows []passkeyRow) *form {
	for _, row := range rows {
		switch {
		case row.ID != pp.id:
		case pp.remove:
			return row.Remove
		default:
			row.Rename.Fields[0].Value = pp.name
			return row.Rename
		}
	}
	return nil
}
