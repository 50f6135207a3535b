// The control plane server (see control_server.h).
//
// Peer credentials: gRPC 1.51 (Debian 12) does not expose SO_PEERCRED to services or to an
// AuthMetadataProcessor for insecure UNIX sockets. So ESG owns the UNIX listening socket: an accept
// thread reads each connection's SO_PEERCRED and hands the fd to gRPC with AddInsecureChannelFromFd —
// to the real server when the peer is allowed, to a second server whose only (generic) service answers
// every call with PERMISSION_DENIED and a sentence otherwise. A refused client thus sees a proper
// status instead of a dropped connection, and an allowed connection is never re-checked per call.
#include "control/server/control_server.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_posix.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "control/server/control_service.h"
#include "control/server/unix_listener.h"
#include "control/socket_path.h"
#include "control/tls_files.h"
#include "server/common/log.h"

namespace esg::control {
namespace {

// Answers every method with PERMISSION_DENIED (the server that refused peers are attached to).
class DenyAll final : public grpc::CallbackGenericService {
 public:
  explicit DenyAll(std::string sentence) : sentence_(std::move(sentence)) {}
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    class Reactor : public grpc::ServerGenericBidiReactor {
     public:
      explicit Reactor(const std::string& sentence) {
        Finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, sentence));
      }
      void OnDone() override { delete this; }
    };
    return new Reactor(sentence_);
  }

 private:
  std::string sentence_;
};

bool ReadFile(const std::string& path, const char* option, std::string* out, std::string* error) {
  std::string why;
  if (ReadPemFile(path, out, &why)) return true;
  *error = std::string("Invalid value for '") + option + "': cannot read '" + path + "': " + why;
  return false;
}

}  // namespace

class ControlServer::Impl {
 public:
  Impl(AdminApi* admin, std::optional<gid_t> group)
      : control_(admin, &lifetime_), health_(admin, &lifetime_), policy_(geteuid(), group) {}
  ~Impl() { Shutdown(); }

  bool Start(const ControlOptions& options, const std::string& socket_path, bool default_path,
             std::optional<gid_t> group, std::string* error) {
    grpc::ServerBuilder builder;
    builder.RegisterService(&control_);
    builder.RegisterService(&health_);
    int tcp_port = 0;
    if (!options.tcp_address.empty()) {
      grpc::SslServerCredentialsOptions tls(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
      if (!ReadFile(options.tls_key, "--control-tls-key", &pair.private_key, error) ||
          !ReadFile(options.tls_cert, "--control-tls-cert", &pair.cert_chain, error) ||
          !ReadFile(options.tls_ca, "--control-tls-ca", &tls.pem_root_certs, error)) {
        return false;
      }
      tls.pem_key_cert_pairs.push_back(pair);
      builder.AddListeningPort(options.tcp_address, grpc::SslServerCredentials(tls), &tcp_port);
    }
    if (!socket_path.empty()) {
      BindOutcome bound = BindControlSocket(socket_path, group, &listen_fd_, error);
      if (bound == BindOutcome::kInUse && default_path) {
        warning_ = "control plane: " + *error + "; this master has no control socket (pass --control-socket PATH)";
        error->clear();
      } else if (bound != BindOutcome::kBound) {
        return false;
      } else {
        socket_path_ = socket_path;
        bound_ino_ = InodeOf(socket_path_);
      }
    }
    server_ = builder.BuildAndStart();
    if (!server_ || (!options.tcp_address.empty() && tcp_port == 0)) {
      *error = options.tcp_address.empty()
                   ? std::string("cannot start the gRPC control server")
                   : "Invalid value for '--control-address': cannot listen on '" + options.tcp_address +
                         "' with TLS (address in use, or a bad certificate/key)";
      return false;
    }
    if (tcp_port != 0) {
      size_t colon = options.tcp_address.rfind(':');
      tcp_address_ = options.tcp_address.substr(0, colon) + ":" + std::to_string(tcp_port);
    }
    if (listen_fd_ >= 0) {
      deny_ = std::make_unique<DenyAll>(policy_.Refusal("your uid"));
      grpc::ServerBuilder deny_builder;
      deny_builder.RegisterCallbackGenericService(deny_.get());
      denier_ = deny_builder.BuildAndStart();
      wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
      if (!denier_ || wake_fd_ < 0) {
        *error = "cannot start the control plane's accept loop";
        return false;
      }
      accept_thread_ = std::thread([this] { AcceptLoop(); });
    }
    return true;
  }

  void Shutdown() {
    std::lock_guard<std::mutex> guard(shutdown_mu_);
    if (done_) return;
    done_ = true;
    lifetime_.stopping = true;
    if (accept_thread_.joinable()) {
      uint64_t one = 1;
      (void)!write(wake_fd_, &one, sizeof(one));
      accept_thread_.join();
    }
    // Short: AdminApi calls already answer at once (the master closed it) and streams poll `stopping`; a
    // longer deadline only waits for idle clients (esgctl shells) to hang up.
    auto deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(300);
    if (server_) server_->Shutdown(deadline);
    if (denier_) denier_->Shutdown(deadline);
    if (listen_fd_ >= 0) {
      close(listen_fd_);
      // Remove the file only if it is still ours (not replaced by a newer master).
      if (InodeOf(socket_path_) == bound_ino_) unlink(socket_path_.c_str());
      listen_fd_ = -1;
    }
    if (wake_fd_ >= 0) close(wake_fd_);
    wake_fd_ = -1;
  }

  std::string socket_path_, tcp_address_, warning_;

 private:
  static ino_t InodeOf(const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0 ? st.st_ino : 0;
  }

  void AcceptLoop() {
    while (true) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents != 0) return;
      while (true) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(std::chrono::milliseconds(100));
          break;  // EAGAIN: drained
        }
        PeerCredentials peer;
        std::string why;
        if (!ReadPeerCredentials(fd, &peer)) {
          close(fd);
          continue;
        }
        if (policy_.Allows(peer, &why)) {
          grpc::AddInsecureChannelFromFd(server_.get(), fd);
        } else {
          log::Error().warn("control plane: refused a connection from pid {} uid {}", peer.pid, peer.uid);
          grpc::AddInsecureChannelFromFd(denier_.get(), fd);
        }
      }
    }
  }

  ServiceLifetime lifetime_;
  ControlService control_;
  HealthService health_;
  PeerPolicy policy_;
  std::unique_ptr<DenyAll> deny_;
  std::unique_ptr<grpc::Server> server_, denier_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  ino_t bound_ino_ = 0;
  std::thread accept_thread_;
  std::mutex shutdown_mu_;
  bool done_ = false;
};

bool ValidateControlOptions(const ControlOptions& options, std::string* error) {
  if (!options.enabled) return true;
  bool any_tls = !options.tls_cert.empty() || !options.tls_key.empty() || !options.tls_ca.empty();
  bool all_tls = !options.tls_cert.empty() && !options.tls_key.empty() && !options.tls_ca.empty();
  if (!options.tcp_address.empty() && !all_tls) {
    *error = "Invalid value for '--control-address': a TCP control listener needs --control-tls-cert, "
             "--control-tls-key and --control-tls-ca (client certificates are required); the control plane "
             "is never served over plain TCP";
    return false;
  }
  if (options.tcp_address.empty() && any_tls) {
    *error = "Invalid value for '--control-tls-cert/--control-tls-key/--control-tls-ca': TLS files are "
             "only used with --control-address HOST:PORT";
    return false;
  }
  if (!options.tcp_address.empty() && options.tcp_address.rfind(':') == std::string::npos) {
    *error = "Invalid value for '--control-address': '" + options.tcp_address + "' is not HOST:PORT";
    return false;
  }
  return true;
}

ControlServer::ControlServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ControlServer::~ControlServer() { Shutdown(); }
const std::string& ControlServer::socket_path() const { return impl_->socket_path_; }
const std::string& ControlServer::tcp_address() const { return impl_->tcp_address_; }
const std::string& ControlServer::warning() const { return impl_->warning_; }
void ControlServer::Shutdown() {
  if (impl_) impl_->Shutdown();
}

std::unique_ptr<ControlServer> StartControlServer(AdminApi* admin, const ControlOptions& options,
                                                  std::string* error) {
  error->clear();
  if (!options.enabled) return nullptr;
  if (!ValidateControlOptions(options, error)) return nullptr;
  std::optional<gid_t> group;
  if (!options.group.empty()) {
    gid_t gid;
    if (!ResolveGroup(options.group, &gid, error)) return nullptr;
    group = gid;
  }
  bool default_path = options.socket_path.empty();
  std::string path = default_path ? DefaultControlSocketPath() : options.socket_path;
  if (IsDisabledSocketPath(path)) path.clear();
  if (path.empty() && options.tcp_address.empty()) {
    *error = "the control plane has no listener: --control-socket is 'none' and no --control-address is set "
             "(use --no-control to turn it off)";
    return nullptr;
  }
  auto impl = std::make_unique<ControlServer::Impl>(admin, group);
  if (!impl->Start(options, path, default_path, group, error)) return nullptr;
  return std::make_unique<ControlServer>(std::move(impl));
}

}  // namespace esg::control
