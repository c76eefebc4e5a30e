package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

// deliverPending delivers the queued events in order, marking each
// delivered in the state file after it was.
func (m *daemon) deliverPending(ctx context.Context) error {
	for len(m.st.Pending) > 0 {
		ev := m.st.Pending[0]
		start := time.Now()
		if err := m.deliver(ctx, ev); err != nil {
			return err
		}
		if err := m.hook(Delivered, []*Event{ev}); err != nil {
			return err
		}
		m.st.Pending = m.st.Pending[1:]
		d := deliveredEvent{Height: ev.Height}
		if ev.Obligation != nil {
			d.Obligation, d.Due = ev.Obligation.ID, ev.Obligation.Due
		}
		m.st.Delivered[ev.ID] = d
		if err := m.save(); err != nil {
			return err
		}
		m.mx.deliveredEvent(ev, start, m.st)
	}
	return nil
}

// deliver prints ev (and flushes), or with a webhook posts it until the
// receiver answers 2xx and then prints it.
func (m *daemon) deliver(ctx context.Context, ev *Event) error {
	if m.o.Webhook != "" {
		if err := m.post(ctx, ev); err != nil {
			return err
		}
	}
	var line []byte
	if m.o.JSON {
		bz, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		line = append(bz, '\n')
	} else {
		line = []byte(eventText(ev))
	}
	if _, err := m.o.Out.Write(line); err != nil && m.o.Webhook == "" {
		m.mx.failedAttempt(ev)
		return fmt.Errorf("write event %s: %w", ev.ID, err)
	}
	switch w := m.o.Out.(type) {
	case interface{ Flush() error }:
		if err := w.Flush(); err != nil && m.o.Webhook == "" {
			m.mx.failedAttempt(ev)
			return fmt.Errorf("flush event %s: %w", ev.ID, err)
		}
	case *os.File:
		_ = w.Sync() // fails harmlessly on terminals and pipes
	}
	return nil
}

// post sends ev to the webhook, retrying with exponential backoff until a
// 2xx answer (or ctx ends; with Once, until OnceGiveUp has passed). Every
// attempt carries the same webhook-id and is signed anew with its own
// timestamp.
func (m *daemon) post(ctx context.Context, ev *Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	wait := m.o.RetryMin
	start := time.Now()
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			m.mx.retry()
		}
		err := m.postOnce(ctx, ev, body)
		if err == nil {
			if attempt > 1 {
				m.logf("webhook: event %s delivered after %d attempts", ev.ID, attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		m.mx.failedAttempt(ev)
		if m.o.Once && time.Since(start)+wait > m.o.OnceGiveUp {
			return fmt.Errorf("webhook: event %s not delivered after %d attempts (%v); it stays queued in %s", ev.ID, attempt, err, m.o.StatePath)
		}
		m.logf("webhook: event %s: %v (attempt %d, retrying in %s)", ev.ID, err, attempt, wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, m.o.RetryMax)
	}
}

func (m *daemon) postOnce(ctx context.Context, ev *Event, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.o.Webhook, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "normledger-monitor/"+m.o.Version)
	req.Header.Set("Normledger-Event-Id", ev.ID)
	req.Header.Set("Idempotency-Key", ev.ID)
	// Standard Webhooks: the id and the attempt's time always, the
	// signatures with a secret.
	if len(m.keys) > 0 {
		SignWebhook(req.Header, m.keys, webhookID(ev.ChainID, ev.Member, ev.ID), time.Now(), body)
	} else {
		req.Header.Set(HeaderWebhookID, webhookID(ev.ChainID, ev.Member, ev.ID))
		req.Header.Set(HeaderWebhookTimestamp, strconv.FormatInt(time.Now().Unix(), 10))
	}
	resp, err := m.hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}
