package webhooktest

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/internal/webhook"
)

// Memory is an in-memory database of endpoints and deliveries whose
// stores pass the suite. The zero value is not ready: use NewMemory.
type Memory struct {
	mu         sync.Mutex
	endpoints  map[uuid.UUID]webhook.Endpoint
	deliveries map[uuid.UUID]webhook.Delivery
	attempts   map[uuid.UUID][]webhook.Attempt
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{
		endpoints:  map[uuid.UUID]webhook.Endpoint{},
		deliveries: map[uuid.UUID]webhook.Delivery{},
		attempts:   map[uuid.UUID][]webhook.Attempt{},
	}
}

// Stores returns m's ports.
func (m *Memory) Stores() webhook.Stores {
	return webhook.Stores{Endpoints: (*memEndpoints)(m), Deliveries: (*memDeliveries)(m)}
}

type (
	memEndpoints  Memory
	memDeliveries Memory
)

func cloneEndpoint(e webhook.Endpoint) webhook.Endpoint {
	e.Types = slices.Clone(e.Types)
	e.Secret = slices.Clone(e.Secret)
	e.PreviousSecret = slices.Clone(e.PreviousSecret)
	return e
}

func (m *memEndpoints) CreateEndpoint(_ context.Context, e webhook.Endpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.endpoints[e.ID] = cloneEndpoint(e)
	return nil
}

func (m *memEndpoints) Endpoint(_ context.Context, id uuid.UUID) (webhook.Endpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.endpoints[id]
	if !ok {
		return webhook.Endpoint{}, webhook.ErrEndpointNotFound
	}
	return cloneEndpoint(e), nil
}

func (m *memEndpoints) ListEndpoints(context.Context) ([]webhook.Endpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]webhook.Endpoint, 0, len(m.endpoints))
	for _, e := range m.endpoints {
		out = append(out, cloneEndpoint(e))
	}
	slices.SortFunc(out, func(a, b webhook.Endpoint) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), slices.Compare(a.ID[:], b.ID[:]))
	})
	return out, nil
}

func (m *memEndpoints) SaveEndpoint(_ context.Context, e webhook.Endpoint, was time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.endpoints[e.ID]
	if !ok {
		return webhook.ErrEndpointNotFound
	}
	if !old.UpdatedAt.Equal(was) {
		return webhook.ErrEndpointChanged
	}
	e.CreatedAt = old.CreatedAt
	m.endpoints[e.ID] = cloneEndpoint(e)
	return nil
}

func (m *memEndpoints) DeleteEndpoint(_ context.Context, id uuid.UUID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.endpoints[id]; !ok {
		return webhook.ErrEndpointNotFound
	}
	delete(m.endpoints, id)
	for did, d := range m.deliveries {
		if d.EndpointID == id {
			delete(m.deliveries, did)
			delete(m.attempts, did)
		}
	}
	return nil
}

func (m *memEndpoints) SetFailing(_ context.Context, id uuid.UUID, since time.Time) (webhook.Endpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.endpoints[id]
	if !ok {
		return webhook.Endpoint{}, webhook.ErrEndpointNotFound
	}
	if since.IsZero() || e.FailingSince.IsZero() {
		e.FailingSince = since
	}
	m.endpoints[id] = e
	return cloneEndpoint(e), nil
}

func (m *memEndpoints) Disable(_ context.Context, id uuid.UUID, failingSince, at time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.endpoints[id]
	if !ok || !e.Enabled || e.FailingSince.IsZero() || !e.FailingSince.Equal(failingSince) {
		return false, nil
	}
	e.Enabled, e.UpdatedAt = false, at
	m.endpoints[id] = e
	return true, nil
}

func (m *memEndpoints) ClearFailing(_ context.Context, id uuid.UUID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.endpoints[id]; ok && !e.FailingSince.IsZero() {
		e.FailingSince = time.Time{}
		m.endpoints[id] = e
	}
	return nil
}

func cloneDelivery(d webhook.Delivery) webhook.Delivery {
	d.Payload = slices.Clone(d.Payload)
	return d
}

func (m *memDeliveries) CreateDeliveries(_ context.Context, ds []webhook.Delivery) ([]webhook.Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []webhook.Delivery
	for _, d := range ds {
		if _, ok := m.endpoints[d.EndpointID]; !ok {
			return nil, webhook.ErrEndpointNotFound
		}
		dup := false
		for _, o := range m.deliveries {
			dup = dup || (o.EndpointID == d.EndpointID && o.EventID == d.EventID)
		}
		if dup {
			continue
		}
		m.deliveries[d.ID] = cloneDelivery(d)
		out = append(out, d)
	}
	return out, nil
}

func (m *memDeliveries) Delivery(_ context.Context, id uuid.UUID) (webhook.Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.deliveries[id]
	if !ok {
		return webhook.Delivery{}, webhook.ErrDeliveryNotFound
	}
	return cloneDelivery(d), nil
}

func (m *memDeliveries) ListDeliveries(_ context.Context, endpoint uuid.UUID, limit int) ([]webhook.Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []webhook.Delivery
	for _, d := range m.deliveries {
		if d.EndpointID == endpoint {
			out = append(out, cloneDelivery(d))
		}
	}
	slices.SortFunc(out, func(a, b webhook.Delivery) int { return slices.Compare(b.ID[:], a.ID[:]) })
	return out[:min(len(out), limit)], nil
}

func (m *memDeliveries) Attempts(_ context.Context, id uuid.UUID) ([]webhook.Attempt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.deliveries[id]; !ok {
		return nil, webhook.ErrDeliveryNotFound
	}
	return slices.Clone(m.attempts[id]), nil
}

// SaveDelivery saves only while the delivery is as f says; f without a
// State is no fence.
func (m *memDeliveries) SaveDelivery(_ context.Context, d webhook.Delivery, f webhook.Fence, a *webhook.Attempt) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.deliveries[d.ID]
	if !ok {
		return webhook.ErrDeliveryNotFound
	}
	if f.State != "" && (old.State != f.State || !old.NextAt.Equal(f.NextAt)) {
		return webhook.ErrClaimLost
	}
	old.State, old.Attempts, old.NextAt, old.Held, old.UpdatedAt = d.State, d.Attempts, d.NextAt, d.Held, d.UpdatedAt
	if old.State != webhook.Pending {
		old.NextAt, old.Held = time.Time{}, false
	}
	m.deliveries[d.ID] = old
	if a != nil {
		m.attempts[d.ID] = append(m.attempts[d.ID], *a)
	}
	return nil
}

func (m *memDeliveries) PendingBefore(_ context.Context, endpoint, subject uuid.UUID, seq int64) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var latest time.Time
	for _, d := range m.deliveries {
		if d.EndpointID == endpoint && d.Subject == subject && d.State == webhook.Pending && d.Seq < seq && d.NextAt.After(latest) {
			latest = d.NextAt
		}
	}
	return latest, nil
}

func (m *memDeliveries) Wake(_ context.Context, endpoint, subject uuid.UUID, seq int64, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, d := range m.deliveries {
		if d.EndpointID == endpoint && d.Subject == subject && d.State == webhook.Pending && d.Held && d.Seq > seq {
			if d.NextAt.After(now) {
				d.NextAt = now
			}
			d.Held = false
			m.deliveries[id] = d
		}
	}
	return nil
}

func (m *memDeliveries) ClaimDue(_ context.Context, now time.Time, lease time.Duration, limits webhook.ClaimLimits) ([]webhook.Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var due []webhook.Delivery
	for _, d := range m.deliveries {
		if d.State == webhook.Pending && !d.NextAt.After(now) {
			due = append(due, d)
		}
	}
	slices.SortFunc(due, func(a, b webhook.Delivery) int {
		return cmp.Or(a.NextAt.Compare(b.NextAt), slices.Compare(a.ID[:], b.ID[:]))
	})
	var out []webhook.Delivery
	for _, d := range due {
		if len(out) == limits.Max {
			break
		}
		if slices.Contains(limits.Except, d.EndpointID) {
			continue
		}
		d.NextAt, d.Held, d.UpdatedAt = now.Add(lease), false, now
		m.deliveries[d.ID] = d
		out = append(out, cloneDelivery(d))
	}
	return out, nil
}

// finished says whether d is a delivery PurgeFinished removes before before.
func finished(d webhook.Delivery, before time.Time) bool {
	return d.State != webhook.Pending && d.UpdatedAt.Before(before)
}

func (m *memDeliveries) PurgeFinished(_ context.Context, before time.Time, limit int) (deliveries, attempts int64, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, d := range m.deliveries {
		if deliveries == int64(limit) {
			break
		}
		if finished(d, before) {
			attempts += int64(len(m.attempts[id]))
			delete(m.attempts, id)
			delete(m.deliveries, id)
			deliveries++
		}
	}
	return deliveries, attempts, nil
}

func (m *memDeliveries) CountFinished(_ context.Context, before time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for _, d := range m.deliveries {
		if finished(d, before) {
			n++
		}
	}
	return n, nil
}
