package witness

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Follow fetches origin's newest checkpoint from each node (its REST base
// URL) every interval, cosigns it if it is consistent with the witness's
// state (asking the node for the consistency proof), and delivers the
// cosignature to the node (POST /tlog/cosignature). It returns when ctx
// ends.
func (w *Witness) Follow(ctx context.Context, origin string, nodes []string, interval time.Duration) {
	hc := &http.Client{Timeout: 10 * time.Second}
	t := time.NewTicker(interval)
	defer t.Stop()
	for _, n := range nodes {
		w.mx.followErrors.WithLabelValues(origin, n)
	}
	for {
		for _, n := range nodes {
			if err := w.followOnce(ctx, hc, origin, n); err != nil && ctx.Err() == nil {
				w.mx.followErrors.WithLabelValues(origin, n).Inc()
				w.log.Debug("follow", "node", n, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *Witness) followOnce(ctx context.Context, hc *http.Client, origin, node string) error {
	nodeLabel := node
	node = strings.TrimSuffix(node, "/")
	msg, err := get(ctx, hc, node+"/tlog/checkpoint")
	if err != nil {
		return err
	}
	first, _, _ := bytes.Cut(msg, []byte("\n"))
	if string(first) != origin {
		return fmt.Errorf("%s serves the log %q, not %q", node, first, origin)
	}
	st, _ := w.State(origin)
	lines := strings.SplitN(string(msg), "\n", 3)
	if len(lines) < 3 {
		return errors.New("malformed checkpoint")
	}
	var size uint64
	if _, err := fmt.Sscanf(lines[1], "%d", &size); err != nil {
		return err
	}
	w.mx.served.WithLabelValues(origin, nodeLabel).Set(float64(size))
	if size < st.Size {
		return fmt.Errorf("%s serves a checkpoint of %d entries, older than the %d cosigned", node, size, st.Size)
	}
	var proof [][]byte
	if size > st.Size && st.Size > 0 {
		bz, err := get(ctx, hc, fmt.Sprintf("%s/v1/log/consistency?first=%d&second=%d", node, st.Size, size))
		if err != nil {
			return err
		}
		var resp struct {
			Hashes []string `json:"hashes"`
		}
		if err := json.Unmarshal(bz, &resp); err != nil {
			return err
		}
		for _, h := range resp.Hashes {
			b, err := base64.StdEncoding.DecodeString(h)
			if err != nil {
				return err
			}
			proof = append(proof, b)
		}
	}
	w.dmu.Lock()
	done := w.delivered[node] == size && size == st.Size && size > 0
	w.dmu.Unlock()
	if done {
		return nil
	}
	sig, err := w.AddCheckpoint(&Request{Old: st.Size, Proof: proof, Note: msg})
	if err != nil {
		return err
	}
	body, _, _ := bytes.Cut(msg, []byte("\n\n"))
	out := append(append(append([]byte(nil), body...), "\n\n"...), sig...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, node+"/tlog/cosignature", bytes.NewReader(out))
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s refused the cosignature: %s", node, resp.Status)
	}
	w.dmu.Lock()
	w.delivered[node] = size
	w.dmu.Unlock()
	return nil
}

func get(ctx context.Context, hc *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	bz, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return bz, nil
}
