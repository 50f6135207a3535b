// TlsContext implementation: the --ssl-* options → one SSL_CTX, with an error sentence per failure.
#include "server/engine/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace esg::engine {
namespace {

// The server's ALPN preference lists (wire format: length-prefixed names), chosen once per context and
// handed to SelectAlpn as its `arg`; static, so the pointer outlives every SSL_CTX.
struct AlpnPreference {
  const unsigned char* list;
  unsigned int length;
};
constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char kAlpnH2Http11[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr AlpnPreference kHttp11Only{kAlpnHttp11, sizeof kAlpnHttp11};
constexpr AlpnPreference kH2ThenHttp11{kAlpnH2Http11, sizeof kAlpnH2Http11};

// Python's ssl module constants (ssl.PROTOCOL_*, ssl.CERT_*).
constexpr int kProtocolTls = 2;
constexpr int kProtocolTlsV1 = 3;
constexpr int kProtocolTlsV1_1 = 4;
constexpr int kProtocolTlsV1_2 = 5;
constexpr int kProtocolTlsClient = 16;
constexpr int kProtocolTlsServer = 17;

std::string Quote(const std::string& path) { return "'" + path + "'"; }

// The reason of the most recent OpenSSL error ("no start line", "bad decrypt"), or "unknown error".
std::string OpenSslReason() {
  unsigned long code = ERR_peek_last_error();
  const char* reason = code ? ERR_reason_error_string(code) : nullptr;
  return reason ? reason : "unknown error";
}

// A file an option names must be readable; says why not (errno) in the option's words.
bool Readable(const char* option, const std::string& path, std::string* error) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    *error = std::string(option) + " " + Quote(path) + ": cannot read the file (" + std::strerror(errno) + ")";
    return false;
  }
  std::fclose(f);
  return true;
}

std::string MismatchError(const char* key_option, const std::string& keyfile, const std::string& certfile) {
  return key_option + std::string(" ") + Quote(keyfile) + ": the private key does not match the certificate in " +
         "--ssl-certfile " + Quote(certfile);
}

struct PasswordState {
  const std::string* password;
  bool asked = false;
};

// OpenSSL asks for the key's passphrase only when the key is encrypted. Never prompts on a terminal
// (OpenSSL's default callback would).
int PasswordCallback(char* buf, int size, int /*rwflag*/, void* userdata) {
  auto* state = static_cast<PasswordState*>(userdata);
  state->asked = true;
  if (state->password->empty()) return 0;
  int n = static_cast<int>(std::min<size_t>(state->password->size(), static_cast<size_t>(size)));
  std::memcpy(buf, state->password->data(), static_cast<size_t>(n));
  return n;
}

// RFC 9113 §9.2.2: over TLS 1.2, HTTP/2 needs an ephemeral key exchange and an AEAD cipher (the suites
// RFC 7540 Appendix A prohibits are, in effect, the others); a client that negotiated a prohibited one may
// end the connection with INADEQUATE_SECURITY, and browsers do. OpenSSL chooses the cipher before it asks for ALPN, so
// such a connection is offered http/1.1 only. TLS 1.3 suites all qualify.
bool CipherAllowsH2(const SSL* ssl) {
  if (SSL_version(ssl) >= TLS1_3_VERSION) return true;
  const SSL_CIPHER* cipher = SSL_get_pending_cipher(ssl);
  if (cipher == nullptr) return false;
  int kx = SSL_CIPHER_get_kx_nid(cipher);
  bool ephemeral = kx == NID_kx_ecdhe || kx == NID_kx_dhe || kx == NID_kx_ecdhe_psk || kx == NID_kx_dhe_psk;
  return ephemeral && SSL_CIPHER_is_aead(cipher) == 1;
}

// The first protocol of the server's list (arg: an AlpnPreference) that the client offers. SSL_select_next_proto
// walks the server's list in order, so the server's preference wins whatever order the client wrote.
int SelectAlpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void* arg) {
  const auto* preference = static_cast<const AlpnPreference*>(arg);
  if (preference == &kH2ThenHttp11 && !CipherAllowsH2(ssl)) preference = &kHttp11Only;
  unsigned char* selected = nullptr;
  unsigned char selected_len = 0;
  if (SSL_select_next_proto(&selected, &selected_len, preference->list, preference->length, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // e.g. an h2-only client without --http2: no ALPN, the client decides
  }
  *out = selected;
  *outlen = selected_len;
  return SSL_TLSEXT_ERR_OK;
}

bool SetVersions(SSL_CTX* ctx, int version, std::string* error) {
  int min = TLS1_2_VERSION;
  int max = 0;  // the highest the library supports (TLS 1.3)
  switch (version) {
    case kProtocolTls:
    case kProtocolTlsServer:
      break;
    case kProtocolTlsV1_2:
      max = TLS1_2_VERSION;
      break;
    case kProtocolTlsV1:
    case kProtocolTlsV1_1:
      *error = "--ssl-version " + std::to_string(version) + " asks for TLS 1." + (version == kProtocolTlsV1 ? "0" : "1") +
               ", which ESG does not serve (insecure): use 17 (TLS 1.2 and later, the default) or 5 (TLS 1.2 only)";
      return false;
    case kProtocolTlsClient:
      *error = "--ssl-version 16 is ssl.PROTOCOL_TLS_CLIENT, a client-side protocol: use 17 (PROTOCOL_TLS_SERVER, "
               "the default) or 5 (TLS 1.2 only)";
      return false;
    default:
      *error = "--ssl-version " + std::to_string(version) +
               " is not supported: use 17 (ssl.PROTOCOL_TLS_SERVER: TLS 1.2 and later, the default), 2 "
               "(ssl.PROTOCOL_TLS, the same) or 5 (ssl.PROTOCOL_TLSv1_2: TLS 1.2 only)";
      return false;
  }
  SSL_CTX_set_min_proto_version(ctx, min);
  SSL_CTX_set_max_proto_version(ctx, max);
  return true;
}

bool LoadKeyPair(SSL_CTX* ctx, const TlsSettings& s, std::string* error) {
  const std::string& keyfile = s.keyfile.empty() ? s.certfile : s.keyfile;
  const char* key_option = s.keyfile.empty() ? "--ssl-certfile" : "--ssl-keyfile";
  if (!Readable("--ssl-certfile", s.certfile, error)) return false;
  if (!s.keyfile.empty() && !Readable("--ssl-keyfile", s.keyfile, error)) return false;
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, s.certfile.c_str()) != 1) {
    *error = "--ssl-certfile " + Quote(s.certfile) + ": not a usable PEM certificate (" + OpenSslReason() + ")";
    return false;
  }
  PasswordState state{&s.password};
  SSL_CTX_set_default_passwd_cb(ctx, PasswordCallback);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, &state);
  ERR_clear_error();
  int loaded = SSL_CTX_use_PrivateKey_file(ctx, keyfile.c_str(), SSL_FILETYPE_PEM);
  // The password is not needed after loading: keep no pointer to it.
  SSL_CTX_set_default_passwd_cb(ctx, nullptr);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
  if (loaded != 1) {
    if (state.asked && s.password.empty()) {
      *error = key_option + std::string(" ") + Quote(keyfile) +
               ": the private key is encrypted; give its password with --ssl-keyfile-password";
    } else if (state.asked) {
      *error = "--ssl-keyfile-password: cannot decrypt the private key in " + Quote(keyfile) +
               " with this password (" + OpenSslReason() + ")";
    } else if (ERR_GET_LIB(ERR_peek_last_error()) == ERR_LIB_X509 &&
               ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      *error = MismatchError(key_option, keyfile, s.certfile);  // checked while loading
    } else {
      *error = key_option + std::string(" ") + Quote(keyfile) + ": no usable PEM private key (" + OpenSslReason() +
               ")";
    }
    return false;
  }
  ERR_clear_error();
  if (SSL_CTX_check_private_key(ctx) != 1) {
    *error = MismatchError(key_option, keyfile, s.certfile);
    return false;
  }
  return true;
}

bool SetClientVerification(SSL_CTX* ctx, const TlsSettings& s, std::string* error) {
  if (s.cert_reqs != 0 && s.cert_reqs != 1 && s.cert_reqs != 2) {
    *error = "--ssl-cert-reqs " + std::to_string(s.cert_reqs) +
             " is not one of 0 (ssl.CERT_NONE), 1 (ssl.CERT_OPTIONAL), 2 (ssl.CERT_REQUIRED)";
    return false;
  }
  if (!s.ca_certs.empty()) {
    if (!Readable("--ssl-ca-certs", s.ca_certs, error)) return false;
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(ctx, s.ca_certs.c_str(), nullptr) != 1) {
      *error = "--ssl-ca-certs " + Quote(s.ca_certs) + ": no usable PEM CA certificate (" + OpenSslReason() + ")";
      return false;
    }
    // Tell clients which CAs are accepted, so one with several certificates can pick the right one.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(s.ca_certs.c_str())) {
      SSL_CTX_set_client_CA_list(ctx, names);
    }
  }
  if (s.cert_reqs == 0) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return true;
  }
  if (s.ca_certs.empty()) {
    *error = "--ssl-cert-reqs " + std::to_string(s.cert_reqs) +
             " verifies client certificates and needs --ssl-ca-certs (the CAs that issue them)";
    return false;
  }
  int mode = SSL_VERIFY_PEER | (s.cert_reqs == 2 ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
  SSL_CTX_set_verify(ctx, mode, nullptr);
  return true;
}

}  // namespace

std::shared_ptr<TlsContext> TlsContext::Create(const TlsSettings& s, std::string* error) {
  if (s.certfile.empty()) {
    *error = s.keyfile.empty() ? "TLS needs --ssl-certfile" : "--ssl-keyfile needs --ssl-certfile (the certificate)";
    return nullptr;
  }
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (raw == nullptr) {
    *error = "cannot create an OpenSSL context (" + OpenSslReason() + ")";
    return nullptr;
  }
  std::shared_ptr<TlsContext> context(new TlsContext(raw));
  SSL_CTX* ctx = context->get();
  if (!SetVersions(ctx, s.version, error)) return nullptr;
  ERR_clear_error();
  if (SSL_CTX_set_cipher_list(ctx, s.ciphers.c_str()) != 1) {
    *error = "--ssl-ciphers " + Quote(s.ciphers) + ": selects no cipher OpenSSL knows (" + OpenSslReason() + ")";
    return nullptr;
  }
  if (!LoadKeyPair(ctx, s, error)) return nullptr;
  if (!SetClientVerification(ctx, s, error)) return nullptr;

  // Like CPython's server contexts: prefer the server's cipher order, no compression, no renegotiation
  // (a client-driven CPU sink, and the one case where SSL_write would need to read). A peer that closes
  // without close_notify is an ordinary end of stream: HTTP framing, not TLS, detects truncated bodies.
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Partial writes let the transport behave like writev (report what was sent); the connection retries
  // from a copy of the unsent bytes (a moving buffer); idle connections give their record buffers back.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  // Fewer read(2) calls: OpenSSL reads what the socket has, not one record header at a time.
  SSL_CTX_set_read_ahead(ctx, 1);
  // Needed for session resumption when client certificates are verified; harmless otherwise.
  static const unsigned char kSessionContext[] = "esg";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn,
                             const_cast<AlpnPreference*>(s.http2 ? &kH2ThenHttp11 : &kHttp11Only));
  return context;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

}  // namespace esg::engine
