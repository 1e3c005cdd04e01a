package launch

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// HostCert is the certificate a host presents to the plugins it launches.
//
// With go-plugin's automatic mTLS the host makes a new P-521 key and
// certificate for every launch, a large share of a short run's CPU. A
// HostCert is made once per host process (P-256) and given to each plugin
// the same way automatic mTLS gives it: in PLUGIN_CLIENT_CERT, so the
// plugin accepts only this host. The plugin still makes its own
// certificate per launch, and the host pins it from the handshake as
// before. The private key never leaves the host process.
type HostCert struct {
	pem  []byte
	cert tls.Certificate
}

// NewHostCert makes the host's certificate.
func NewHostCert() (*HostCert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("make the host's plugin certificate: %w", err)
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("make the host's plugin certificate: %w", err)
	}
	// The attributes go-plugin gives its own certificates: the plugin puts
	// this one in its pool of trusted roots and checks the host against it.
	template := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"Replicator"}},
		DNSNames:              []string{"localhost"},
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SerialNumber:          sn,
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("make the host's plugin certificate: %w", err)
	}
	return &HostCert{
		pem:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
	}, nil
}

// env is the variable that tells a plugin which host to accept.
func (h *HostCert) env() string { return "PLUGIN_CLIENT_CERT=" + string(h.pem) }

// tlsConfig is a new client configuration for one launch: go-plugin adds
// the plugin's own certificate to it once the plugin has sent it.
func (h *HostCert) tlsConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{h.cert},
		MinVersion:   tls.VersionTLS12,
		ServerName:   "localhost",
	}
}
