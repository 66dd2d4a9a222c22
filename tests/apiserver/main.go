// Command test-apiserver runs a real kube-apiserver (k8s.io/kubernetes/cmd/kube-apiserver/app)
// backed by an embedded etcd (go.etcd.io/etcd/server/v3/embed) in a single process, for
// end-to-end tests of sg-provisioner.
//
// Usage:
//
//	test-apiserver --data-dir DIR [--port N] [--persist] [-- EXTRA-KUBE-APISERVER-FLAGS...]
//
// When the API server is ready it prints, on stdout, exactly two lines and nothing else:
//
//	VERSION=v1.xx.y
//	KUBECONFIG=/abs/path/to/DIR/kubeconfig
//
// The KUBECONFIG line is always the last one; it is the readiness signal. The program then
// runs until SIGTERM/SIGINT or until its parent process dies.
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"golang.org/x/sys/unix"

	"github.com/spf13/pflag"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/server/flagz"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	basecompatibility "k8s.io/component-base/compatibility"
	"k8s.io/component-base/featuregate"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
	"k8s.io/kubernetes/cmd/kube-apiserver/app/options"
)

const (
	readyTimeout    = 60 * time.Second
	shutdownTimeout = 3 * time.Second
	saIssuer        = "https://kubernetes.default.svc.cluster.local"
	serviceCIDR     = "10.0.0.0/24"
	firstServiceIP  = "10.0.0.1"
)

// realStdout/realStderr are the process's original stdout/stderr. File descriptors 1 and 2
// are redirected to DATA_DIR/apiserver.log so that nothing the apiserver or etcd print can
// pollute our stdout protocol.
var (
	realStdout *os.File = os.Stdout
	realStderr *os.File = os.Stderr
)

func logf(format string, args ...any) {
	fmt.Fprintf(realStderr, "test-apiserver: "+format+"\n", args...)
}

func main() {
	os.Exit(run())
}

func run() int {
	// Die with the parent process: a getppid poll further down. (Not PR_SET_PDEATHSIG: it fires
	// when the parent *thread* exits, e.g. the test thread that happened to start this server.)
	origPPID := os.Getppid()

	fs := flag.NewFlagSet("test-apiserver", flag.ContinueOnError)
	noParentWatch := fs.Bool("no-parent-watch", false, "keep running when the parent process exits (for detached use by tests/env/up)")
	dataDir := fs.String("data-dir", "", "directory for everything this program writes (required; created if missing)")
	port := fs.Int("port", 0, "secure port of the API server on 127.0.0.1 (0 = pick a free port)")
	persist := fs.Bool("persist", false, "keep etcd's data and the certificates in --data-dir, so that a restart with the same --data-dir and --port is the same cluster")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: test-apiserver --data-dir DIR [--port N] [--persist] [-- EXTRA-KUBE-APISERVER-FLAGS...]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	extraArgs := fs.Args() // anything after "--" goes to kube-apiserver verbatim
	if *dataDir == "" {
		logf("--data-dir is required")
		fs.Usage()
		return 2
	}
	if *port < 0 || *port > 65535 {
		logf("invalid --port %d", *port)
		return 2
	}
	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		logf("%v", err)
		return 1
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		logf("create data dir: %v", err)
		return 1
	}

	logPath := filepath.Join(dir, "apiserver.log")
	if err := redirectStdio(logPath); err != nil {
		logf("redirect logs: %v", err)
		return 1
	}

	// Signals and parent death both lead to an orderly shutdown.
	stopCh := make(chan string, 4)
	sigCh := make(chan os.Signal, 2)
	signal.Notify(sigCh, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for s := range sigCh {
			stopCh <- s.String()
		}
	}()
	go func() {
		for !*noParentWatch {
			if os.Getppid() != origPPID {
				stopCh <- "parent process exited"
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
	}()

	s := &server{dir: dir, logPath: logPath, persist: *persist, abort: make(chan struct{}), apiErr: make(chan error, 1)}
	klog.OsExit = s.exitHook
	defer s.cleanup()

	// A second signal (or parent death) while shutting down: stop waiting, exit now.
	hardStop := func() {
		go func() {
			<-stopCh
			s.stopEtcd(500 * time.Millisecond)
			os.Exit(0)
		}()
	}

	ready := make(chan error, 1)
	go func() { ready <- s.start(*port, extraArgs) }()

	select {
	case err := <-ready:
		if err != nil {
			logf("start failed: %v", err)
			s.dumpLogTail()
			return s.fail()
		}
	case <-stopCh:
		s.mu.Lock()
		s.stopping = true
		s.mu.Unlock()
		hardStop()
		close(s.abort)
		select {
		case <-ready:
		case <-time.After(shutdownTimeout):
		}
		return 0
	}

	if strings.HasPrefix(s.version, "v0.0.0") {
		logf("warning: /version reports %q: this binary was built without build.sh's -ldflags -X "+
			"k8s.io/component-base/version.gitVersion=...; the k8s.io/kubernetes module is %s", s.version, kubeModuleVersion())
	}
	fmt.Fprintf(realStdout, "VERSION=%s\nKUBECONFIG=%s\n", s.version, s.kubeconfig)

	select {
	case <-stopCh:
		hardStop()
		return 0 // deferred cleanup performs the shutdown
	case err := <-s.apiErr:
		logf("kube-apiserver exited unexpectedly: %v", err)
		s.dumpLogTail()
		return s.fail()
	case err := <-s.etcdErr:
		logf("etcd failed: %v", err)
		s.dumpLogTail()
		return s.fail()
	}
}

func kubeModuleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "k8s.io/kubernetes" {
				return m.Version
			}
		}
	}
	return "unknown"
}

// redirectStdio points fds 1 and 2 at logPath, keeping the originals for our own use.
func redirectStdio(logPath string) error {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	outFD, err := unix.Dup(1)
	if err != nil {
		return err
	}
	errFD, err := unix.Dup(2)
	if err != nil {
		return err
	}
	unix.CloseOnExec(outFD)
	unix.CloseOnExec(errFD)
	realStdout = os.NewFile(uintptr(outFD), "stdout")
	realStderr = os.NewFile(uintptr(errFD), "stderr")
	if err := unix.Dup3(int(f.Fd()), 1, 0); err != nil {
		return err
	}
	return unix.Dup3(int(f.Fd()), 2, 0)
}

type server struct {
	dir, logPath string
	abort        chan struct{} // closed when we are asked to stop while starting
	apiErr       chan error
	kubeconfig   string
	version      string
	persist      bool // etcd's data and the certificates stay in dir when stopped

	mu        sync.Mutex // guards the fields below
	etcdDir   string
	etcd      *embed.Etcd
	etcdErr   <-chan error
	cancelAPI context.CancelFunc
	apiDone   chan struct{}
	stopping  bool
	failed    bool // we are shutting down because of an error: exit non-zero

	etcdStop sync.Once
}

func (s *server) start(port int, extraArgs []string) error {
	pki := filepath.Join(s.dir, "pki")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return err
	}
	// With --persist a restart keeps its CA: its clients' kubeconfig stays valid.
	c, err := loadPKI(pki)
	if err != nil || !s.persist {
		if c, err = writePKI(pki); err != nil {
			return fmt.Errorf("generate certificates: %w", err)
		}
	}

	etcdURL, err := s.startEtcd()
	if err != nil {
		return fmt.Errorf("start etcd: %w", err)
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("listen on secure port: %w", err)
	}
	port = ln.Addr().(*net.TCPAddr).Port

	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + pki,
		"--tls-cert-file=" + c.servingCert,
		"--tls-private-key-file=" + c.servingKey,
		"--client-ca-file=" + c.caCert,
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=" + saIssuer,
		"--service-account-key-file=" + c.saKey,
		"--service-account-signing-key-file=" + c.saKey,
		"--service-cluster-ip-range=" + serviceCIDR,
		// The ServiceAccount admission plugin rejects pods whose service account does not
		// exist; without kube-controller-manager nobody creates "default" service accounts.
		"--disable-admission-plugins=ServiceAccount",
		"--enable-priority-and-fairness=false",
		// The lease reconciler would try to publish 127.0.0.1 as the endpoint of the
		// "kubernetes" service, which endpoint validation rejects (loopback).
		"--endpoint-reconciler-type=none",
		"--profiling=false",
		"--v=0",
	}
	args = append(args, extraArgs...)

	ctx, cancel := context.WithCancel(context.Background())
	apiDone := make(chan struct{})
	s.mu.Lock()
	s.cancelAPI, s.apiDone = cancel, apiDone
	s.mu.Unlock()
	go func() {
		defer close(apiDone)
		err := runAPIServer(ctx, args, ln)
		if err == nil && ctx.Err() == nil {
			err = errors.New("kube-apiserver returned without error")
		}
		if ctx.Err() == nil {
			s.apiErr <- err
		}
	}()

	s.kubeconfig = filepath.Join(s.dir, "kubeconfig")
	serverURL := "https://127.0.0.1:" + strconv.Itoa(port)
	if err := writeKubeconfig(s.kubeconfig, serverURL, c); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}

	hc, err := c.httpClient()
	if err != nil {
		return err
	}
	return s.waitReady(hc, serverURL)
}

// runAPIServer mirrors the RunE of app.NewAPIServerCommand, minus its process-wide signal
// handling (we own the context).
func runAPIServer(ctx context.Context, args []string, ln net.Listener) error {
	s := options.NewServerRunOptions()
	featureGate := s.GenericServerRunOptions.ComponentGlobalsRegistry.FeatureGateFor(basecompatibility.DefaultKubeComponent)

	fs := pflag.NewFlagSet("kube-apiserver", pflag.ContinueOnError)
	namedFlagSets := s.Flags()
	s.Flagz = flagz.NamedFlagSetsReader{FlagSets: namedFlagSets}
	for _, f := range namedFlagSets.FlagSets {
		fs.AddFlagSet(f)
	}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("kube-apiserver flags: %w", err)
	}
	s.SecureServing.Listener = ln
	s.SecureServing.BindPort = ln.Addr().(*net.TCPAddr).Port

	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	// kube-apiserver loopback clients should not log self-issued warnings.
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	if err := logsapi.ValidateAndApply(s.Logs, featureGate); err != nil {
		return err
	}
	completed, err := s.Complete(ctx)
	if err != nil {
		return err
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return utilerrors.NewAggregate(errs)
	}
	featureGate.(featuregate.MutableFeatureGate).AddMetrics()
	s.GenericServerRunOptions.ComponentGlobalsRegistry.AddMetrics()
	return app.Run(ctx, completed)
}

func (s *server) startEtcd() (string, error) {
	etcdDir := filepath.Join(s.dir, "etcd")
	err := os.MkdirAll(etcdDir, 0o700)
	if !s.persist {
		etcdDir, err = os.MkdirTemp(s.dir, "etcd-")
	}
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.etcdDir = etcdDir
	s.mu.Unlock()
	// Ports are picked by binding :0 and closing; retry on the (unlikely) race.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		clientPort, err1 := freePort()
		peerPort, err2 := freePort()
		if err := errors.Join(err1, err2); err != nil {
			return "", err
		}
		cfg := embed.NewConfig()
		cfg.Name = "test-apiserver"
		cfg.Dir = filepath.Join(etcdDir, "data")
		cu := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(clientPort))}
		pu := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(peerPort))}
		cfg.ListenClientUrls = []url.URL{cu}
		cfg.AdvertiseClientUrls = []url.URL{cu}
		cfg.ListenPeerUrls = []url.URL{pu}
		cfg.AdvertisePeerUrls = []url.URL{pu}
		cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
		cfg.Logger = "zap"
		cfg.LogLevel = "error"
		cfg.LogOutputs = []string{s.logPath}
		cfg.UnsafeNoFsync = true // throw-away test data
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			lastErr = err
			_ = os.RemoveAll(cfg.Dir)
			continue
		}
		select {
		case <-e.Server.ReadyNotify():
		case err := <-e.Err():
			e.Close()
			lastErr = err
			_ = os.RemoveAll(cfg.Dir)
			continue
		case <-s.abort:
			e.Close()
			return "", errors.New("aborted")
		case <-time.After(30 * time.Second):
			e.Close()
			return "", errors.New("etcd did not become ready within 30s")
		}
		s.mu.Lock()
		s.etcd, s.etcdErr = e, e.Err()
		s.mu.Unlock()
		return cu.String(), nil
	}
	return "", lastErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls /readyz until 200, then makes sure the system namespaces exist and
// reads /version.
func (s *server) waitReady(hc *http.Client, serverURL string) error {
	deadline := time.Now().Add(readyTimeout)
	get := func(path string) (int, []byte, error) {
		resp, err := hc.Get(serverURL + path)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, body, err
	}
	var last string
	for _, path := range []string{"/readyz", "/api/v1/namespaces/default", "/api/v1/namespaces/kube-system"} {
		for {
			code, body, err := get(path)
			if err == nil && code == http.StatusOK {
				break
			}
			if err != nil {
				last = err.Error()
			} else {
				last = fmt.Sprintf("HTTP %d: %s", code, strings.TrimSpace(string(body)))
			}
			select {
			case err := <-s.apiErr:
				return fmt.Errorf("kube-apiserver exited: %w", err)
			case err := <-s.etcdErr:
				return fmt.Errorf("etcd failed: %w", err)
			case <-s.abort:
				return errors.New("aborted")
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("GET %s not OK after %s; last result: %s", path, readyTimeout, last)
			}
		}
	}
	code, body, err := get("/version")
	if err != nil || code != http.StatusOK {
		return fmt.Errorf("GET /version: code %d err %v", code, err)
	}
	var v struct {
		GitVersion string `json:"gitVersion"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("parse /version: %w", err)
	}
	s.version = v.GitVersion
	return nil
}

// cleanup stops kube-apiserver (bounded wait) and etcd, and removes etcd's data.
func (s *server) cleanup() {
	s.mu.Lock()
	s.stopping = true
	cancel, apiDone := s.cancelAPI, s.apiDone
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		select {
		case <-apiDone:
		case <-time.After(shutdownTimeout):
			klog.InfoS("test-apiserver: kube-apiserver did not stop in time; stopping etcd anyway", "timeout", shutdownTimeout)
		}
	}
	s.stopEtcd(2 * time.Second)
}

// stopEtcd closes etcd (waiting at most timeout) and removes its data. Safe to call from
// any goroutine, any number of times.
func (s *server) stopEtcd(timeout time.Duration) {
	s.etcdStop.Do(func() {
		s.mu.Lock()
		e, dir := s.etcd, s.etcdDir
		s.mu.Unlock()
		if e != nil {
			done := make(chan struct{})
			go func() {
				e.Close()
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(timeout):
				klog.InfoS("test-apiserver: etcd did not stop in time; exiting anyway", "timeout", timeout)
			}
		}
		if dir != "" && !s.persist {
			_ = os.RemoveAll(dir)
		}
	})
}

// fail marks the shutdown as caused by an error and returns the exit code to use.
func (s *server) fail() int {
	s.mu.Lock()
	s.failed = true
	s.mu.Unlock()
	return 1
}

// exitHook replaces klog.OsExit. kube-apiserver calls klog.Fatal in a few places, notably
// when its context is cancelled while post-start hooks are still running (SIGTERM during
// startup). Make sure etcd's data is removed on that path too, and report a requested stop
// as success.
func (s *server) exitHook(code int) {
	s.mu.Lock()
	stopping, failed := s.stopping, s.failed
	s.mu.Unlock()
	s.stopEtcd(time.Second)
	if stopping {
		if failed {
			os.Exit(1)
		}
		os.Exit(0)
	}
	logf("kube-apiserver exited fatally (code %d)", code)
	s.dumpLogTail()
	os.Exit(code)
}

func (s *server) dumpLogTail() {
	b, err := os.ReadFile(s.logPath)
	if err != nil || len(strings.TrimSpace(string(b))) == 0 {
		return
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	logf("last lines of %s:\n%s", s.logPath, strings.Join(lines, "\n"))
}

// ---- certificates ----

type certs struct {
	caCert, servingCert, servingKey, adminCert, adminKey, saKey string // file paths
	caPEM, adminCertPEM, adminKeyPEM                            []byte
}

func pkiPaths(dir string) *certs {
	return &certs{
		caCert:      filepath.Join(dir, "ca.crt"),
		servingCert: filepath.Join(dir, "apiserver.crt"),
		servingKey:  filepath.Join(dir, "apiserver.key"),
		adminCert:   filepath.Join(dir, "admin.crt"),
		adminKey:    filepath.Join(dir, "admin.key"),
		saKey:       filepath.Join(dir, "sa.key"),
	}
}

// loadPKI reads what an earlier run's writePKI left in dir; an error when anything is missing.
func loadPKI(dir string) (*certs, error) {
	c := pkiPaths(dir)
	var err error
	if c.caPEM, err = os.ReadFile(c.caCert); err != nil {
		return nil, err
	}
	if c.adminCertPEM, err = os.ReadFile(c.adminCert); err != nil {
		return nil, err
	}
	if c.adminKeyPEM, err = os.ReadFile(c.adminKey); err != nil {
		return nil, err
	}
	for _, p := range []string{c.servingCert, c.servingKey, c.saKey} {
		if _, err := os.Stat(p); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func writePKI(dir string) (*certs, error) {
	c := pkiPaths(dir)
	now := time.Now().Add(-time.Hour)
	notAfter := now.Add(10 * 365 * 24 * time.Hour)

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "sg-provisioner-test-ca"},
		NotBefore:             now,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	c.caPEM = pemBytes("CERTIFICATE", caDER)
	if err := os.WriteFile(c.caCert, c.caPEM, 0o644); err != nil {
		return nil, err
	}
	if err := writeKey(filepath.Join(dir, "ca.key"), caKey); err != nil {
		return nil, err
	}

	issue := func(tmpl *x509.Certificate, certPath, keyPath string) ([]byte, []byte, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl.SerialNumber = serial()
		tmpl.NotBefore = now
		tmpl.NotAfter = notAfter
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.BasicConstraintsValid = true
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		certPEM := pemBytes("CERTIFICATE", der)
		if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
			return nil, nil, err
		}
		if err := writeKey(keyPath, key); err != nil {
			return nil, nil, err
		}
		keyPEM, err := os.ReadFile(keyPath)
		return certPEM, keyPEM, err
	}

	if _, _, err := issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1"), net.ParseIP(firstServiceIP)},
	}, c.servingCert, c.servingKey); err != nil {
		return nil, err
	}
	c.adminCertPEM, c.adminKeyPEM, err = issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, c.adminCert, c.adminKey)
	if err != nil {
		return nil, err
	}

	// Service-account token signing key (RSA, as kube-controller-manager/kubeadm use).
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(c.saKey, pemBytes("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey)), 0o600); err != nil {
		return nil, err
	}
	return c, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

func pemBytes(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func writeKey(path string, key crypto.Signer) error {
	der, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
	if err != nil {
		return err
	}
	return os.WriteFile(path, pemBytes("EC PRIVATE KEY", der), 0o600)
}

func (c *certs) httpClient() (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.caPEM) {
		return nil, errors.New("bad CA PEM")
	}
	pair, err := tls.X509KeyPair(c.adminCertPEM, c.adminKeyPEM)
	if err != nil {
		return nil, err
	}
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs:      pool,
			Certificates: []tls.Certificate{pair},
			MinVersion:   tls.VersionTLS12,
		}},
	}, nil
}

func writeKubeconfig(path, serverURL string, c *certs) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test-apiserver"] = &clientcmdapi.Cluster{
		Server:                   serverURL,
		CertificateAuthorityData: c.caPEM,
	}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: c.adminCertPEM,
		ClientKeyData:         c.adminKeyPEM,
	}
	cfg.Contexts["test-apiserver"] = &clientcmdapi.Context{
		Cluster:   "test-apiserver",
		AuthInfo:  "admin",
		Namespace: "default",
	}
	cfg.CurrentContext = "test-apiserver"
	tmp := path + ".tmp"
	if err := clientcmd.WriteToFile(*cfg, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
