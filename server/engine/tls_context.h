// TlsContext: the server-side OpenSSL SSL_CTX built from the --ssl-* options (uvicorn's semantics), shared
// by every TLS connection of a worker. The master builds one too, only to validate the options and files
// before it spawns workers (server/master/tls_check.h), so both report the same sentence for a bad file.
//
// Option mapping (the integers are the stdlib `ssl` module's constants, as uvicorn takes them):
//   --ssl-version    2 (PROTOCOL_TLS) or 17 (PROTOCOL_TLS_SERVER, default): TLS 1.2 and later;
//                    5 (PROTOCOL_TLSv1_2): TLS 1.2 only. TLS 1.0/1.1 (3, 4), SSL (0, 1) and the client-side
//                    16 are refused with an error.
//   --ssl-cert-reqs  0 CERT_NONE, 1 CERT_OPTIONAL (verify a certificate if the client sends one),
//                    2 CERT_REQUIRED (handshake fails without one); 1 and 2 need --ssl-ca-certs.
//   --ssl-ciphers    an OpenSSL cipher string for TLS 1.2 (default "TLSv1", as uvicorn); TLS 1.3 suites keep
//                    OpenSSL's defaults.
//   --ssl-keyfile    defaults to --ssl-certfile (a PEM file holding both), like ssl.load_cert_chain.
// ALPN: "http/1.1" when the client offers it; no ALPN answer otherwise (the client decides). With `http2`
// (--http2) the server's preference is "h2", then "http/1.1" (TlsTransport::h2_selected() reports the
// outcome). Every version ESG serves is TLS 1.2 or later, as HTTP/2 over TLS requires (RFC 9113 §9.2).
//
// Thread safety: Create() is reentrant; the resulting SSL_CTX is read-only afterwards and may be used
// from any thread (OpenSSL reference-counts it).
#pragma once

#include <memory>
#include <string>

typedef struct ssl_ctx_st SSL_CTX;

namespace esg::engine {

struct TlsSettings {
  std::string certfile;
  std::string keyfile;   // empty: the key is in certfile
  std::string password;  // for an encrypted keyfile; never logged
  int version = 17;
  int cert_reqs = 0;
  std::string ca_certs;
  std::string ciphers = "TLSv1";
  bool http2 = false;  // offer ALPN "h2" before "http/1.1"
};

class TlsContext {
 public:
  // Builds the context, loading and checking every file. On failure returns nullptr and sets *error to one
  // sentence naming the option and the file ("--ssl-certfile /x.pem: no such file or directory").
  static std::shared_ptr<TlsContext> Create(const TlsSettings& settings, std::string* error);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* get() const { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

}  // namespace esg::engine
