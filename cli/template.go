package cli

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Record files may hold placeholders, so that examples stay valid over time
// and can refer to records filed before them:
//
//	${name}          the value of --var name=VALUE
//	${now}           the current time, RFC 3339, whole seconds, UTC
//	${now+72h}       now plus a duration (Go syntax, plus "d" for days: ${now-30d})
//	${year}          the current year, UTC (a number: a declaration's year)
var placeholder = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)([+-][0-9][0-9a-z.]*)?\}`)

func expand(src []byte, vars map[string]string, now time.Time) ([]byte, error) {
	var missing []string
	var bad error
	out := placeholder.ReplaceAllFunc(src, func(m []byte) []byte {
		sub := placeholder.FindSubmatch(m)
		name, off := string(sub[1]), string(sub[2])
		if name == "now" {
			t := now.UTC().Truncate(time.Second)
			if off != "" {
				d, err := parseOffset(off)
				if err != nil {
					bad = err
					return m
				}
				t = t.Add(d)
			}
			return []byte(t.Format(time.RFC3339))
		}
		if name == "year" && off == "" {
			if _, set := vars[name]; !set {
				return []byte(strconv.Itoa(now.UTC().Year()))
			}
		}
		v, ok := vars[name]
		if !ok || off != "" {
			missing = append(missing, name)
			return m
		}
		return []byte(v)
	})
	if bad != nil {
		return nil, bad
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("unresolved placeholders %s: pass them with --var NAME=VALUE", strings.Join(missing, ", "))
	}
	return out, nil
}

func parseOffset(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("bad offset %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad offset %q: %w", s, err)
	}
	return d, nil
}

func parseVars(kvs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--var %q: want NAME=VALUE", kv)
		}
		out[k] = v
	}
	return out, nil
}
