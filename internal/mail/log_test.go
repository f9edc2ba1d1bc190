package mail_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/usersvc/usersvc/internal/mail"
)

func TestLogMailerWritesTheMessage(t *testing.T) {
	var buf bytes.Buffer
	m := mail.NewLogMailer(slog.New(slog.NewJSONHandler(&buf, nil)))
	msg := mail.Message{To: "ada@example.com", Subject: "Confirm", Text: "open https://a.example.com/v?token=abc\n", HTML: "<p>x</p>"}
	if err := m.Send(t.Context(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	var entry struct{ Level, To, Subject, Text string }
	if err := json.Unmarshal(buf.Bytes(), &entry); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	if entry.Level != "INFO" || entry.To != msg.To || entry.Subject != msg.Subject || entry.Text != msg.Text {
		t.Errorf("logged %+v, want INFO with %+v", entry, msg)
	}
	if err := m.Send(t.Context(), mail.Message{To: "ada@example.com\r\nBcc: eve@example.com", Subject: "x"}); !errors.Is(err, mail.ErrInvalidMessage) {
		t.Errorf("Send(header injection) = %v, want ErrInvalidMessage", err)
	}
}
