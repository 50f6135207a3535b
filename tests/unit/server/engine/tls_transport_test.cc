// Tests for the TLS transport and its context: a real OpenSSL client in-process on the other end of a
// non-blocking socketpair, keys and certificates made with OpenSSL's API in a temporary directory.
#include "server/engine/tls_transport.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "server/engine/tls_context.h"

namespace esg::engine {
namespace {

// ---------------------------------------------------------------------------------------- key material

EVP_PKEY* NewKey() { return EVP_EC_gen("P-256"); }

X509* NewCert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, bool ca) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer ? issuer : x, x, nullptr, nullptr, 0);
  X509_EXTENSION* bc = X509V3_EXT_conf_nid(nullptr, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  X509_add_ext(x, bc, -1);
  X509_EXTENSION_free(bc);
  if (!ca) {
    X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:localhost");
    X509_add_ext(x, san, -1);
    X509_EXTENSION_free(san);
  }
  X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
  return x;
}

class Files {
 public:
  Files() {
    char tmpl[] = "/tmp/esg-tls-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    ca_key_ = NewKey();
    ca_ = NewCert(ca_key_, "ESG test CA", nullptr, nullptr, true);
    server_key_ = NewKey();
    server_cert_ = NewCert(server_key_, "localhost", ca_, ca_key_, false);
    client_key_ = NewKey();
    client_cert_ = NewCert(client_key_, "client", ca_, ca_key_, false);
    other_key_ = NewKey();
    WriteCert("ca.pem", ca_);
    WriteCert("cert.pem", server_cert_);
    WriteKey("key.pem", server_key_, nullptr);
    WriteKey("key-encrypted.pem", server_key_, "s3cret");
    WriteKey("other-key.pem", other_key_, nullptr);
    FILE* f = std::fopen(Path("garbage.pem").c_str(), "w");
    std::fputs("this is not PEM\n", f);
    std::fclose(f);
  }
  ~Files() {
    std::string cmd = "rm -rf '" + dir_ + "'";
    if (std::system(cmd.c_str()) != 0) {
    }
    X509_free(ca_);
    X509_free(server_cert_);
    X509_free(client_cert_);
    EVP_PKEY_free(ca_key_);
    EVP_PKEY_free(server_key_);
    EVP_PKEY_free(client_key_);
    EVP_PKEY_free(other_key_);
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  X509* ca() const { return ca_; }
  X509* client_cert() const { return client_cert_; }
  EVP_PKEY* client_key() const { return client_key_; }

  TlsSettings Settings() const {
    TlsSettings s;
    s.certfile = Path("cert.pem");
    s.keyfile = Path("key.pem");
    return s;
  }

 private:
  void WriteCert(const std::string& name, X509* x) {
    FILE* f = std::fopen(Path(name).c_str(), "w");
    PEM_write_X509(f, x);
    std::fclose(f);
  }
  void WriteKey(const std::string& name, EVP_PKEY* key, const char* password) {
    FILE* f = std::fopen(Path(name).c_str(), "w");
    if (password) {
      PEM_write_PrivateKey(f, key, EVP_aes_256_cbc(), nullptr, 0, nullptr, const_cast<char*>(password));
    } else {
      PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    }
    std::fclose(f);
  }

  std::string dir_;
  EVP_PKEY* ca_key_;
  X509* ca_;
  EVP_PKEY* server_key_;
  X509* server_cert_;
  EVP_PKEY* client_key_;
  X509* client_cert_;
  EVP_PKEY* other_key_;
};

const Files& TestFiles() {
  static Files* files = new Files();  // shared by every test; removed at exit by no one (tmp)
  return *files;
}

// ------------------------------------------------------------------------------------- client fixture

// ALPN lists as the client writes them (length-prefixed names).
const std::string kOfferH2Http11("\x02h2\x08http/1.1", 12);
const std::string kOfferHttp11H2("\x08http/1.1\x02h2", 12);
const std::string kOfferHttp11("\x08http/1.1", 9);
const std::string kOfferH2("\x02h2", 3);

struct ClientOptions {
  int max_version = 0;
  bool with_cert = false;
  std::string alpn = kOfferH2Http11;  // empty: no ALPN extension
  const char* ciphers = nullptr;      // TLS 1.2 cipher list of the client (nullptr: OpenSSL's default)
};

class TlsPair : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { signal(SIGPIPE, SIG_IGN); }

  void SetUp() override { ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0); }

  void TearDown() override {
    transport_.reset();
    if (client_) SSL_free(client_);
    if (client_ctx_) SSL_CTX_free(client_ctx_);
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
  }

  void Start(const TlsSettings& settings, const ClientOptions& options = {}) {
    std::string error;
    context_ = TlsContext::Create(settings, &error);
    ASSERT_TRUE(context_) << error;
    for (int fd : fds_) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    transport_ = MakeTlsTransport(context_, fds_[0]);
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    X509_STORE_add_cert(SSL_CTX_get_cert_store(client_ctx_), TestFiles().ca());
    SSL_CTX_set_verify(client_ctx_, SSL_VERIFY_PEER, nullptr);
    if (options.max_version) {
      SSL_CTX_set_min_proto_version(client_ctx_, 0);
      SSL_CTX_set_max_proto_version(client_ctx_, options.max_version);
      SSL_CTX_set_security_level(client_ctx_, 0);
    }
    if (options.with_cert) {
      SSL_CTX_use_certificate(client_ctx_, TestFiles().client_cert());
      SSL_CTX_use_PrivateKey(client_ctx_, TestFiles().client_key());
    }
    if (!options.alpn.empty()) {
      SSL_CTX_set_alpn_protos(client_ctx_, reinterpret_cast<const unsigned char*>(options.alpn.data()),
                              static_cast<unsigned int>(options.alpn.size()));
    }
    if (options.ciphers) {
      ASSERT_EQ(SSL_CTX_set_cipher_list(client_ctx_, options.ciphers), 1) << options.ciphers;
    }
    client_ = SSL_new(client_ctx_);
    SSL_set_fd(client_, fds_[1]);
    SSL_set_tlsext_host_name(client_, "localhost");
    SSL_set1_host(client_, "localhost");
    SSL_set_connect_state(client_);
  }

  // Drives both sides until the client finished its handshake and the server's Read() has nothing more
  // to do (EAGAIN) — or either side failed. Returns the server's last Read() result/errno.
  bool Handshake(ssize_t* server_result = nullptr, int* server_errno = nullptr) {
    char buf[256];
    ssize_t n = -1;
    for (int i = 0; i < 100; ++i) {
      ERR_clear_error();
      int c = SSL_do_handshake(client_);
      if (c <= 0) {
        int e = SSL_get_error(client_, c);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) client_failed_ = true;
      }
      errno = 0;
      n = transport_->Read(buf, sizeof buf);
      int err = errno;
      if (server_result) *server_result = n;
      if (server_errno) *server_errno = err;
      if (n == 0 || (n < 0 && err != EAGAIN)) return false;
      if (client_failed_) return false;
      if (c == 1 && transport_->secure()) return true;
    }
    return false;
  }

  // A second connection to the same server context, resuming `session` (the client's options stay).
  void Reconnect(SSL_SESSION* session) {
    // Clean closes: OpenSSL will not resume a session whose connection was dropped without close_notify.
    SSL_shutdown(client_);
    transport_->Shutdown(true);
    transport_.reset();
    SSL_free(client_);
    for (int& fd : fds_) close(std::exchange(fd, -1));
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0);
    for (int fd : fds_) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    transport_ = MakeTlsTransport(context_, fds_[0]);
    client_ = SSL_new(client_ctx_);
    SSL_set_fd(client_, fds_[1]);
    SSL_set_tlsext_host_name(client_, "localhost");
    SSL_set1_host(client_, "localhost");
    SSL_set_session(client_, session);
    SSL_set_connect_state(client_);
  }

  // The protocol the handshake selected by ALPN, as the client sees it ("" for none).
  std::string ClientAlpn() const {
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(client_, &alpn, &alpn_len);
    return std::string(reinterpret_cast<const char*>(alpn), alpn_len);
  }

  // Reads from the client until `want` bytes arrived or nothing moves for a while.
  std::string ClientRead(size_t want) {
    std::string out;
    char buf[65536];
    int idle = 0;
    while (out.size() < want && idle < 50) {
      int n = SSL_read(client_, buf, sizeof buf);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
        idle = 0;
        continue;
      }
      int e = SSL_get_error(client_, n);
      if (e != SSL_ERROR_WANT_READ) break;
      ++idle;
      usleep(1000);
    }
    return out;
  }

  void ClientWrite(const std::string& data) { ASSERT_EQ(SSL_write(client_, data.data(), data.size()), (int)data.size()); }

  std::string ServerReadAll() {
    std::string out;
    char buf[65536];
    for (;;) {
      ssize_t n = transport_->Read(buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < sizeof buf) break;
    }
    return out;
  }

  int fds_[2] = {-1, -1};
  std::shared_ptr<TlsContext> context_;
  std::unique_ptr<Transport> transport_;
  SSL_CTX* client_ctx_ = nullptr;
  SSL* client_ = nullptr;
  bool client_failed_ = false;
};

// --------------------------------------------------------------------------------------------- tests

TEST_F(TlsPair, ReadBeforeClientHelloIsEagain) {
  Start(TestFiles().Settings());
  char buf[16];
  errno = 0;
  EXPECT_EQ(transport_->Read(buf, sizeof buf), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_FALSE(transport_->secure());
  EXPECT_FALSE(transport_->read_wants_writable());
}

TEST_F(TlsPair, HandshakeThenRequestAndResponse) {
  Start(TestFiles().Settings());
  ASSERT_TRUE(Handshake());
  EXPECT_TRUE(transport_->secure());
  EXPECT_EQ(SSL_version(client_), TLS1_3_VERSION);
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(client_, &alpn, &alpn_len);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(alpn), alpn_len), "http/1.1");

  ClientWrite("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(ServerReadAll(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");

  std::string head = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n";
  struct iovec iov[2] = {{head.data(), head.size()}, {const_cast<char*>("hello"), 5}};
  EXPECT_EQ(transport_->Writev(iov, 2), static_cast<ssize_t>(head.size() + 5));
  EXPECT_EQ(ClientRead(head.size() + 5), head + "hello");
}

TEST_F(TlsPair, SmallIovecsAreGatheredIntoOneRecord) {
  Start(TestFiles().Settings());
  ASSERT_TRUE(Handshake());
  ClientRead(1);  // consume the session tickets
  std::vector<std::string> parts = {"HTTP/1.1 200 OK\r\n", "a: b\r\n", "\r\n", "body"};
  std::vector<struct iovec> iov;
  for (auto& p : parts) iov.push_back({p.data(), p.size()});
  // Count the records on the wire: peek at the raw bytes before the client decrypts them.
  ASSERT_EQ(transport_->Writev(iov.data(), static_cast<int>(iov.size())), 29);
  char raw[4096];
  ssize_t got = recv(fds_[1], raw, sizeof raw, MSG_PEEK);
  ASSERT_GT(got, 5);
  size_t record_len = (static_cast<unsigned char>(raw[3]) << 8) | static_cast<unsigned char>(raw[4]);
  EXPECT_EQ(static_cast<size_t>(got), record_len + 5) << "expected exactly one TLS record";
  EXPECT_EQ(ClientRead(29), "HTTP/1.1 200 OK\r\na: b\r\n\r\nbody");
}

TEST_F(TlsPair, ShortReadMeansDrainedAcrossRecords) {
  Start(TestFiles().Settings());
  ASSERT_TRUE(Handshake());
  // Three records already in the kernel: one Read() must return all of them (an edge-triggered reactor
  // gets no new edge for bytes that had arrived before).
  ClientWrite("GET /1 HTTP/1.1\r\n\r\n");
  ClientWrite("GET /2 HTTP/1.1\r\n\r\n");
  ClientWrite("GET /3 HTTP/1.1\r\n\r\n");
  char buf[4096];
  ssize_t n = transport_->Read(buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n");
  errno = 0;
  EXPECT_EQ(transport_->Read(buf, sizeof buf), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST_F(TlsPair, FullBufferLeavesTheRestForTheNextRead) {
  Start(TestFiles().Settings());
  ASSERT_TRUE(Handshake());
  std::string big(40000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  ClientWrite(big);
  std::string got;
  char buf[1000];
  for (int i = 0; i < 100 && got.size() < big.size(); ++i) {
    ssize_t n = transport_->Read(buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(got, big);
}

TEST_F(TlsPair, WantWriteThenRetryFromAMovedCopy) {
  Start(TestFiles().Settings());
  ASSERT_TRUE(Handshake());
  int small = 4096;
  setsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  std::string body(1 << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7 + (i >> 10));
  std::string head = "HTTP/1.1 200 OK\r\n\r\n";
  struct iovec iov[2] = {{head.data(), head.size()}, {body.data(), body.size()}};
  std::string expected = head + body;
  errno = 0;
  ssize_t n = transport_->Writev(iov, 2);
  if (n < 0) {
    // The first (gathered) record did not fit: it waits inside OpenSSL, the caller retries.
    ASSERT_EQ(errno, EAGAIN);
    n = 0;
  }
  ASSERT_LT(static_cast<size_t>(n), expected.size()) << "the socket buffer should have filled up";
  // As Connection does: keep the unsent bytes in a buffer of our own, retry from there after EAGAIN.
  std::string out = expected.substr(static_cast<size_t>(n));
  std::string received;
  int eagains = 0;
  for (int round = 0; round < 10000 && !out.empty(); ++round) {
    errno = 0;
    std::string moved = out;  // a different address every time (ACCEPT_MOVING_WRITE_BUFFER)
    struct iovec one = {moved.data(), moved.size()};
    ssize_t w = transport_->Writev(&one, 1);
    if (w > 0) {
      out.erase(0, static_cast<size_t>(w));
    } else {
      ASSERT_EQ(errno, EAGAIN);
      ++eagains;
    }
    received += ClientRead(1);
  }
  EXPECT_TRUE(out.empty());
  EXPECT_GT(eagains, 0);
  received += ClientRead(expected.size() - received.size());
  EXPECT_EQ(received.size(), expected.size());
  EXPECT_TRUE(received == expected);
}

TEST_F(TlsPair, GracefulShutdownSendsCloseNotify) {
  Start(TestFiles().Settings());
  ASSERT_TRUE(Handshake());
  transport_->Shutdown(true);
  transport_->Shutdown(true);  // a second call does nothing
  char buf[64];
  int n = 0;
  for (int i = 0; i < 100; ++i) {
    n = SSL_read(client_, buf, sizeof buf);
    if (n > 0 || SSL_get_error(client_, n) != SSL_ERROR_WANT_READ) break;
    usleep(1000);
  }
  EXPECT_EQ(SSL_get_error(client_, n), SSL_ERROR_ZERO_RETURN);
}

TEST_F(TlsPair, AbortSendsNoCloseNotify) {
  Start(TestFiles().Settings());
  ASSERT_TRUE(Handshake());
  ClientRead(1);  // the session tickets
  transport_->Shutdown(false);
  transport_->Shutdown(true);  // too late: the first call decided
  close(fds_[0]);
  fds_[0] = -1;
  char buf[64];
  ERR_clear_error();
  int n = SSL_read(client_, buf, sizeof buf);
  EXPECT_LE(n, 0);
  EXPECT_NE(SSL_get_error(client_, n), SSL_ERROR_ZERO_RETURN);
}

TEST_F(TlsPair, PeerCloseNotifyIsEndOfStream) {
  Start(TestFiles().Settings());
  ASSERT_TRUE(Handshake());
  ClientWrite("last");
  SSL_shutdown(client_);
  char buf[64];
  ssize_t n = transport_->Read(buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "last");
  EXPECT_EQ(transport_->Read(buf, sizeof buf), 0);
}

TEST_F(TlsPair, BareFinIsEndOfStream) {
  Start(TestFiles().Settings());
  ASSERT_TRUE(Handshake());
  shutdown(fds_[1], SHUT_WR);
  char buf[64];
  EXPECT_EQ(transport_->Read(buf, sizeof buf), 0);
}

TEST_F(TlsPair, Tls11ClientIsRefused) {
  Start(TestFiles().Settings(), {.max_version = TLS1_1_VERSION});
  ssize_t n = 0;
  int err = 0;
  EXPECT_FALSE(Handshake(&n, &err));
  EXPECT_FALSE(transport_->secure());
  if (!client_failed_) {
    EXPECT_EQ(n, -1);
    EXPECT_EQ(err, EPROTO);
  }
}

TEST_F(TlsPair, Tls12OnlyVersion) {
  TlsSettings s = TestFiles().Settings();
  s.version = 5;  // ssl.PROTOCOL_TLSv1_2
  Start(s);
  ASSERT_TRUE(Handshake());
  EXPECT_EQ(SSL_version(client_), TLS1_2_VERSION);
  ClientWrite("ping");
  EXPECT_EQ(ServerReadAll(), "ping");
}

TEST_F(TlsPair, RequiredClientCertificateMissing) {
  TlsSettings s = TestFiles().Settings();
  s.cert_reqs = 2;
  s.ca_certs = TestFiles().Path("ca.pem");
  Start(s);
  ssize_t n = 0;
  int err = 0;
  // TLS 1.3: the client finishes first; the server refuses the missing certificate on its side.
  Handshake(&n, &err);
  EXPECT_FALSE(transport_->secure());
  EXPECT_EQ(n, -1);
  EXPECT_EQ(err, EPROTO);
}

TEST_F(TlsPair, RequiredClientCertificatePresent) {
  TlsSettings s = TestFiles().Settings();
  s.cert_reqs = 2;
  s.ca_certs = TestFiles().Path("ca.pem");
  Start(s, {.with_cert = true});
  ASSERT_TRUE(Handshake());
  ClientWrite("hi");
  EXPECT_EQ(ServerReadAll(), "hi");
}

// ------------------------------------------------------------------------------------- ALPN and --http2

TlsSettings Http2Settings(bool http2) {
  TlsSettings s = TestFiles().Settings();
  s.http2 = http2;
  return s;
}

TEST_F(TlsPair, NoH2SelectedBeforeTheHandshake) {
  Start(Http2Settings(true));
  EXPECT_FALSE(transport_->h2_selected());
}

TEST_F(TlsPair, Http2OnSelectsH2WhenOffered) {
  Start(Http2Settings(true), {.alpn = kOfferH2Http11});
  ASSERT_TRUE(Handshake());
  EXPECT_EQ(ClientAlpn(), "h2");
  EXPECT_TRUE(transport_->h2_selected());
}

TEST_F(TlsPair, Http2OnPrefersH2WhateverTheClientsOrder) {
  Start(Http2Settings(true), {.alpn = kOfferHttp11H2});
  ASSERT_TRUE(Handshake());
  EXPECT_EQ(ClientAlpn(), "h2");
  EXPECT_TRUE(transport_->h2_selected());
}

TEST_F(TlsPair, Http2OffSelectsHttp11WhenH2IsOfferedFirst) {
  Start(Http2Settings(false), {.alpn = kOfferH2Http11});
  ASSERT_TRUE(Handshake());
  EXPECT_EQ(ClientAlpn(), "http/1.1");
  EXPECT_FALSE(transport_->h2_selected());
}

TEST_F(TlsPair, Http11OnlyClientGetsHttp11WithHttp2On) {
  Start(Http2Settings(true), {.alpn = kOfferHttp11});
  ASSERT_TRUE(Handshake());
  EXPECT_EQ(ClientAlpn(), "http/1.1");
  EXPECT_FALSE(transport_->h2_selected());
}

TEST_F(TlsPair, Http11OnlyClientGetsHttp11WithHttp2Off) {
  Start(Http2Settings(false), {.alpn = kOfferHttp11});
  ASSERT_TRUE(Handshake());
  EXPECT_EQ(ClientAlpn(), "http/1.1");
  EXPECT_FALSE(transport_->h2_selected());
}

TEST_F(TlsPair, H2OnlyClientGetsNoAlpnAnswerWithHttp2Off) {
  Start(Http2Settings(false), {.alpn = kOfferH2});
  ASSERT_TRUE(Handshake());  // no ALPN: the handshake completes, the client decides whether to go on
  EXPECT_EQ(ClientAlpn(), "");
  EXPECT_FALSE(transport_->h2_selected());
}

TEST_F(TlsPair, H2OnlyClientGetsH2WithHttp2On) {
  Start(Http2Settings(true), {.alpn = kOfferH2});
  ASSERT_TRUE(Handshake());
  EXPECT_EQ(ClientAlpn(), "h2");
  EXPECT_TRUE(transport_->h2_selected());
}

TEST_F(TlsPair, NoAlpnExtensionIsHttp11WithHttp2On) {
  Start(Http2Settings(true), {.alpn = ""});
  ASSERT_TRUE(Handshake());
  EXPECT_EQ(ClientAlpn(), "");
  EXPECT_FALSE(transport_->h2_selected());
}

// RFC 9113 §9.2.2: over TLS 1.2, h2 only with an ephemeral key exchange and an AEAD cipher.
TEST_F(TlsPair, Tls12WithAnAeadCipherSelectsH2) {
  TlsSettings s = Http2Settings(true);
  s.ciphers = "ECDHE+AESGCM:TLSv1";
  Start(s, {.max_version = TLS1_2_VERSION, .alpn = kOfferH2Http11});
  ASSERT_TRUE(Handshake());
  ASSERT_EQ(SSL_version(client_), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CIPHER_is_aead(SSL_get_current_cipher(client_)), 1);
  EXPECT_EQ(ClientAlpn(), "h2");
  EXPECT_TRUE(transport_->h2_selected());
}

TEST_F(TlsPair, Tls12ResumedSessionSelectsH2Again) {
  TlsSettings s = Http2Settings(true);
  s.ciphers = "ECDHE+AESGCM:TLSv1";
  Start(s, {.max_version = TLS1_2_VERSION, .alpn = kOfferH2Http11});
  ASSERT_TRUE(Handshake());
  ASSERT_EQ(ClientAlpn(), "h2");
  SSL_SESSION* session = SSL_get1_session(client_);
  ASSERT_NE(session, nullptr);
  Reconnect(session);
  SSL_SESSION_free(session);
  ASSERT_TRUE(Handshake());
  EXPECT_EQ(SSL_session_reused(client_), 1);
  EXPECT_EQ(ClientAlpn(), "h2");
  EXPECT_TRUE(transport_->h2_selected());
}

TEST_F(TlsPair, Tls12WithACbcCipherFallsBackToHttp11) {
  // The default --ssl-ciphers (TLSv1, as uvicorn) gives TLS 1.2 clients CBC suites only: HTTP/1.1 there.
  Start(Http2Settings(true), {.max_version = TLS1_2_VERSION, .alpn = kOfferH2Http11});
  ASSERT_TRUE(Handshake());
  ASSERT_EQ(SSL_version(client_), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CIPHER_is_aead(SSL_get_current_cipher(client_)), 0);
  EXPECT_EQ(ClientAlpn(), "http/1.1");
  EXPECT_FALSE(transport_->h2_selected());
}

TEST_F(TlsPair, Tls12CbcOnlyClientOfferingOnlyH2GetsNoAlpnAnswer) {
  TlsSettings s = Http2Settings(true);
  s.ciphers = "ECDHE+AESGCM:TLSv1";
  Start(s, {.max_version = TLS1_2_VERSION, .alpn = kOfferH2, .ciphers = "ECDHE-ECDSA-AES128-SHA"});
  ASSERT_TRUE(Handshake());
  EXPECT_STREQ(SSL_CIPHER_get_name(SSL_get_current_cipher(client_)), "ECDHE-ECDSA-AES128-SHA");
  EXPECT_EQ(ClientAlpn(), "");
  EXPECT_FALSE(transport_->h2_selected());
}

// ------------------------------------------------------------------------------ context error sentences

std::string CreateError(const TlsSettings& s) {
  std::string error;
  EXPECT_EQ(TlsContext::Create(s, &error), nullptr);
  return error;
}

TEST(TlsContextTest, EncryptedKeyWithPassword) {
  TlsSettings s = TestFiles().Settings();
  s.keyfile = TestFiles().Path("key-encrypted.pem");
  s.password = "s3cret";
  std::string error;
  EXPECT_NE(TlsContext::Create(s, &error), nullptr) << error;
}

TEST(TlsContextTest, KeyInCertfileWhenNoKeyfile) {
  // ssl.load_cert_chain(certfile) semantics: the key is looked for in the certificate file.
  TlsSettings s = TestFiles().Settings();
  s.keyfile.clear();
  std::string error = CreateError(s);
  EXPECT_NE(error.find("--ssl-certfile"), std::string::npos) << error;
  EXPECT_NE(error.find("private key"), std::string::npos) << error;
}

TEST(TlsContextTest, Errors) {
  const Files& f = TestFiles();
  TlsSettings s = f.Settings();
  s.certfile = f.Path("missing.pem");
  EXPECT_EQ(CreateError(s), "--ssl-certfile '" + f.Path("missing.pem") +
                                "': cannot read the file (No such file or directory)");

  s = f.Settings();
  s.certfile = f.Path("garbage.pem");
  EXPECT_EQ(CreateError(s).rfind("--ssl-certfile '" + f.Path("garbage.pem") + "': not a usable PEM certificate", 0), 0u);

  s = f.Settings();
  s.keyfile = f.Path("other-key.pem");
  EXPECT_EQ(CreateError(s), "--ssl-keyfile '" + f.Path("other-key.pem") +
                                "': the private key does not match the certificate in --ssl-certfile '" +
                                f.Path("cert.pem") + "'");

  s = f.Settings();
  s.keyfile = f.Path("key-encrypted.pem");
  EXPECT_EQ(CreateError(s), "--ssl-keyfile '" + f.Path("key-encrypted.pem") +
                                "': the private key is encrypted; give its password with --ssl-keyfile-password");

  s.password = "wrong";
  EXPECT_EQ(CreateError(s).rfind("--ssl-keyfile-password: cannot decrypt the private key in '", 0), 0u);

  s = f.Settings();
  s.version = 4;
  EXPECT_NE(CreateError(s).find("--ssl-version 4 asks for TLS 1.1"), std::string::npos);
  s.version = 99;
  EXPECT_EQ(CreateError(s).rfind("--ssl-version 99 is not supported", 0), 0u);

  s = f.Settings();
  s.cert_reqs = 2;
  EXPECT_EQ(CreateError(s).rfind("--ssl-cert-reqs 2 verifies client certificates and needs --ssl-ca-certs", 0), 0u);
  s.cert_reqs = 3;
  EXPECT_EQ(CreateError(s).rfind("--ssl-cert-reqs 3 is not one of", 0), 0u);

  s = f.Settings();
  s.ciphers = "NO-SUCH-CIPHER";
  EXPECT_EQ(CreateError(s).rfind("--ssl-ciphers 'NO-SUCH-CIPHER'", 0), 0u);

  s = TlsSettings();
  s.keyfile = f.Path("key.pem");
  EXPECT_EQ(CreateError(s), "--ssl-keyfile needs --ssl-certfile (the certificate)");
}

}  // namespace
}  // namespace esg::engine
