package aks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/vnetml/vnetml/internal/armerror"
)

// This file holds the scoring endpoint's TLS as the cluster's
// sslConfiguration gives it: the checks of a certificate and key brought
// by the user (status Enabled), made when the cluster is created so that
// the front end never starts with a pair it cannot serve, and the host
// name of a generated certificate (status Auto, a leaf domain label).

// CloudappDomain is the zone of the names Azure gives a leaf domain label:
// <label><6 random characters>.<location>.cloudapp.azure.com (the SDK's
// enable_ssl(leaf_domain_label=...) docs).
const CloudappDomain = "cloudapp.azure.com"

// LeafSuffixLen is how many random characters follow the leaf domain label.
const LeafSuffixLen = 6

// MaxLeafLabelLen is the longest leaf domain label: with its random
// suffix it is one DNS label of at most 63 characters.
const MaxLeafLabelLen = 63 - LeafSuffixLen

// leafAlphabet is what the random suffix is drawn from: a DNS label's
// lower-case letters and digits.
const leafAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// LeafDomainName returns the host name of a generated certificate for the
// leaf domain label in location: label, LeafSuffixLen characters drawn
// from random (crypto/rand's Reader in production), then
// .<location>.cloudapp.azure.com. The caller picks another when the name
// is taken.
func LeafDomainName(label, location string, random io.Reader) (string, error) {
	b := make([]byte, LeafSuffixLen)
	if _, err := io.ReadFull(random, b); err != nil {
		return "", fmt.Errorf("aks: drawing the leaf domain's suffix: %w", err)
	}
	for i, v := range b {
		// 256 is not a multiple of 36: the first 4 characters are
		// slightly likelier, which does not matter for a name.
		b[i] = leafAlphabet[int(v)%len(leafAlphabet)]
	}
	return strings.ToLower(label) + string(b) + "." + normLocation(location) + "." + CloudappDomain, nil
}

// CheckKeyPair checks a certificate and key in PEM (sslConfiguration's
// cert and key, status Enabled) as the front end will serve them for
// cname at now, adding each problem to l with the field at fault and a
// fix: cert holds no certificate or one that does not parse; key holds
// no unencrypted private key; the key is not the certificate's; the
// certificate has expired or is not valid yet, is not for server
// authentication, or is not for cname.
func CheckKeyPair(l *armerror.List, certPEM, keyPEM, cname string, now time.Time) {
	const (
		tCert  = pathSSL + ".cert"
		tKey   = pathSSL + ".key"
		tCname = pathSSL + ".cname"
	)
	certs, certOther := pemBlocks(certPEM, func(typ string) bool { return typ == "CERTIFICATE" })
	keys, keyOther := pemBlocks(keyPEM, func(typ string) bool { return strings.HasSuffix(typ, "PRIVATE KEY") })
	if len(certs) == 0 && len(keys) == 0 && slices.ContainsFunc(certOther, isKeyType) && slices.Contains(keyOther, "CERTIFICATE") {
		l.Addf(CodeUserError, tCert, "sslConfiguration.cert holds a private key and sslConfiguration.key a certificate: they are swapped; give the certificate file as cert (--ssl-cert-pem-file) and the key file as key (--ssl-key-pem-file).")
		return
	}
	var leaf *x509.Certificate
	switch {
	case len(certs) == 0:
		l.Addf(CodeUserError, tCert, "sslConfiguration.cert holds no PEM certificate%s; give the text of the certificate file, from -----BEGIN CERTIFICATE----- (the certificate first, then its chain).", found(certOther))
	default:
		var err error
		if leaf, err = x509.ParseCertificate(certs[0].Bytes); err != nil {
			l.Addf(CodeUserError, tCert, "The first certificate of sslConfiguration.cert does not parse (%v); give the PEM certificate as your certificate authority issued it.", err)
		}
		for i, b := range certs[1:] {
			if _, err := x509.ParseCertificate(b.Bytes); err != nil {
				l.Addf(CodeUserError, tCert, "Certificate %d of sslConfiguration.cert's chain does not parse (%v); give the chain as your certificate authority issued it.", i+2, err)
			}
		}
	}
	var priv crypto.Signer
	switch {
	case len(keys) == 0:
		l.Addf(CodeUserError, tKey, "sslConfiguration.key holds no PEM private key%s; give the text of the key file, from -----BEGIN PRIVATE KEY----- (or RSA / EC PRIVATE KEY).", found(keyOther))
	case keys[0].Type == "ENCRYPTED PRIVATE KEY" || keys[0].Headers["Proc-Type"] == "4,ENCRYPTED":
		l.Addf(CodeUserError, tKey, "sslConfiguration.key is encrypted with a passphrase, which the front end cannot give; decrypt it (openssl pkey -in key.pem -out key-plain.pem) and give the unencrypted key.")
	default:
		var err error
		// The parser's own error is ASN.1 detail no one can act on.
		if priv, err = parseKey(keys[0]); err != nil {
			l.Addf(CodeUserError, tKey, "sslConfiguration.key's %s block does not parse as a private key (damaged, or not a key); give the key file as it was made, in PEM.", keys[0].Type)
		}
	}
	if leaf == nil {
		return
	}
	if priv != nil {
		if pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(priv.Public()) {
			l.Addf(CodeUserError, tKey, "sslConfiguration.key is not the private key of the certificate for %s: the certificate's public key is %s, the key is %s; give the key the certificate was issued for (or the certificate issued for this key).",
				certNames(leaf), describeKey(leaf.PublicKey), describeKey(priv.Public()))
		}
	}
	switch {
	case now.After(leaf.NotAfter):
		l.Addf(CodeUserError, tCert, "The certificate for %s expired on %s; renew it with your certificate authority and give the new one.", certNames(leaf), leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		l.Addf(CodeUserError, tCert, "The certificate for %s is not valid until %s; give a certificate valid now (check the clock of the machine that issued it).", certNames(leaf), leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		l.Addf(CodeUserError, tCert, "The certificate for %s is not for server authentication (its extended key usage lacks serverAuth), so clients would refuse it; give a TLS server certificate.", certNames(leaf))
	}
	if cname != "" && validHostname(cname) {
		if err := leaf.VerifyHostname(strings.TrimSuffix(cname, ".")); err != nil {
			l.Addf(CodeUserError, tCname, "The certificate is for %s, not for cname %q, so clients calling %s would refuse it; set cname to a name of the certificate, or give a certificate issued for %s.",
				certNames(leaf), cname, cname, cname)
		}
	}
	if l.Len() == 0 {
		// What the front end will do with them; anything the checks
		// above let through (a key type TLS cannot use) is caught here.
		if _, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM)); err != nil {
			l.Addf(CodeUserError, tCert, "sslConfiguration.cert and key cannot serve TLS (%v); give an RSA, ECDSA or Ed25519 certificate and its unencrypted key.", err)
		}
	}
}

// pemBlocks returns the blocks of text whose type want accepts, and the
// types of the others.
func pemBlocks(text string, want func(typ string) bool) (blocks []*pem.Block, other []string) {
	rest := []byte(text)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return blocks, other
		}
		if want(b.Type) {
			blocks = append(blocks, b)
		} else {
			other = append(other, b.Type)
		}
	}
}

func isKeyType(typ string) bool { return strings.HasSuffix(typ, "PRIVATE KEY") }

// found ends a "holds no X" with what was there instead.
func found(types []string) string {
	if len(types) == 0 {
		return ""
	}
	return " (it holds " + strings.Join(types, ", ") + ")"
}

// parseKey parses a PKCS #8, PKCS #1 or SEC 1 private key.
func parseKey(b *pem.Block) (crypto.Signer, error) {
	var k any
	var err error
	switch b.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T cannot sign", k)
	}
	return s, nil
}

// describeKey says what a public key is, for messages: "RSA 2048",
// "ECDSA P-256", with a short fingerprint so that two keys of one kind
// differ.
func describeKey(pub crypto.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	fp := ""
	if len(der) > 0 {
		sum := sha256.Sum256(der)
		fp = " (SPKI sha256 " + hex.EncodeToString(sum[:4]) + "…)"
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d%s", k.N.BitLen(), fp)
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name + fp
	case ed25519.PublicKey:
		return "Ed25519" + fp
	}
	return fmt.Sprintf("a %T", pub)
}

// certNames lists the names a certificate is for.
func certNames(c *x509.Certificate) string {
	names := c.DNSNames
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = []string{c.Subject.CommonName}
	}
	if len(names) == 0 {
		return "no name"
	}
	return strings.Join(names, ", ")
}
