package testnet

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// cacheProxy is nginx from Debian as a caching reverse proxy in front of a
// full node's REST API: what an operator puts between verifiers and a node
// (docs/operations.md, "Serving many readers"). It caches what the node
// marks cacheable (height-pinned answers: Cache-Control immutable) and
// passes everything else through.
type cacheProxy struct {
	cmd *exec.Cmd
	URL string
}

// nginxBinary finds nginx, installing Debian's package when it is missing
// (as .ci/run does for its tools); "" if neither works.
func nginxBinary() string {
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if b, err := exec.LookPath(p); err == nil {
			return b
		}
	}
	exec.Command("sh", "-c", "(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx) >/dev/null 2>&1").Run()
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if b, err := exec.LookPath(p); err == nil {
			return b
		}
	}
	return ""
}

// startCacheProxy starts nginx in dir, listening on a free loopback port
// and proxying to upstream (host:port). One worker process: the machine's
// cores are the validators' and the full node's too.
func startCacheProxy(ctx context.Context, dir, upstream string) (*cacheProxy, error) {
	bin := nginxBinary()
	if bin == "" {
		return nil, fmt.Errorf("nginx is not installed and could not be installed (apt-get install nginx)")
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "cache"), 0o755); err != nil {
		return nil, err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", pickFreePort())
	conf := fmt.Sprintf(`user root;
worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/tmp;
  proxy_temp_path %[1]s/tmp;
  proxy_cache_path %[1]s/cache levels=1:2 keys_zone=normledger:64m max_size=2g inactive=1h use_temp_path=off;
  upstream node { server %[2]s; keepalive 128; }
  server {
    listen %[3]s;
    location / {
      proxy_pass http://node;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache normledger;
      proxy_cache_key $request_uri;
      proxy_cache_lock on;
      add_header X-Cache-Status $upstream_cache_status always;
    }
  }
}
`, dir, upstream, listen)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-c", confPath, "-p", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log, err := os.Create(filepath.Join(dir, "nginx.out"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	p := &cacheProxy{cmd: cmd, URL: "http://" + listen}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			return p, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stop()
			bz, _ := os.ReadFile(filepath.Join(dir, "nginx.out"))
			return nil, fmt.Errorf("nginx did not come up on %s: %v (%s)", listen, err, bz)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *cacheProxy) stop() {
	if p.cmd.Process != nil {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
}

// setNice sets the scheduling priority of every thread of process pid
// (Linux nice values are per thread; threads made later inherit their
// creator's).
func setNice(pid, nice int) error {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return err
	}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice); err != nil {
			return fmt.Errorf("setpriority %d: %w", tid, err)
		}
	}
	return nil
}
