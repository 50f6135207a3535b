// esgctl's connection to a master (see client.h).
#include "control/esgctl/client.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include "control/tls_files.h"

namespace esg::esgctl {
namespace {

bool ReadFile(const std::string& path, const char* option, std::string* out, std::string* error) {
  std::string why;
  if (control::ReadPemFile(path, out, &why)) return true;
  *error = std::string("cannot read ") + option + " '" + path + "': " + why;
  return false;
}

}  // namespace


std::string Client::Where() const {
  return target_.address.empty() ? "unix:" + target_.socket_path : target_.address + " (TLS)";
}

std::string Client::ProbeUnixSocket() {
  const std::string& path = target_.socket_path;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == EACCES) {
      return "permission denied reaching the control socket " + path + "; run esgctl as the server's user or root";
    }
    return "no esg control socket at " + path +
           " (is esg running? pass --socket PATH or set ESG_CONTROL_SOCKET to the master's --control-socket)";
  }
  if (!S_ISSOCK(st.st_mode)) return path + " is not a socket";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return "control socket path too long: " + path;
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("cannot create a socket: ") + std::strerror(errno);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  close(fd);
  if (rc == 0) return "";
  if (err == ECONNREFUSED) {
    return "no esg master is listening on " + path + " (a stale socket: the master exited); start esg or pass --socket";
  }
  if (err == EACCES) {
    return "permission denied connecting to " + path + "; run esgctl as the server's user or root";
  }
  return "cannot connect to " + path + ": " + std::strerror(err);
}

bool Client::MakeChannel(std::string* error) {
  grpc::ChannelArguments args;
  // Reconnect quickly after a master restart instead of backing off for a minute.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string endpoint;
  if (target_.address.empty()) {
    endpoint = "unix:" + target_.socket_path;
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions tls;
    if (!ReadFile(target_.tls_ca, "--tls-ca", &tls.pem_root_certs, error) ||
        !ReadFile(target_.tls_cert, "--tls-cert", &tls.pem_cert_chain, error) ||
        !ReadFile(target_.tls_key, "--tls-key", &tls.pem_private_key, error)) {
      return false;
    }
    endpoint = target_.address;
    credentials = grpc::SslCredentials(tls);
  }
  channel_ = grpc::CreateCustomChannel(endpoint, credentials, args);
  control_ = v1::Control::NewStub(channel_);
  health_ = ::grpc::health::v1::Health::NewStub(channel_);
  return true;
}

bool Client::Connect(int timeout_ms, std::string* error) {
  if (target_.address.empty()) {
    std::string problem = ProbeUnixSocket();
    if (!problem.empty()) {
      *error = problem;
      return false;
    }
  }
  bool fresh = false;
  if (!channel_ || channel_->GetState(false) == GRPC_CHANNEL_TRANSIENT_FAILURE ||
      channel_->GetState(false) == GRPC_CHANNEL_SHUTDOWN) {
    if (!MakeChannel(error)) return false;
    fresh = true;
  }
  auto deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms);
  // A channel that was READY may still hold the connection of a master that has since restarted (the
  // first call on it would fail with "Broken pipe"): probe it with a cheap health check, whose answer
  // (even PERMISSION_DENIED) proves the connection is alive, and start over when it is not.
  if (channel_->WaitForConnected(deadline) && (fresh || Alive(deadline))) return true;
  if (MakeChannel(error) && channel_->WaitForConnected(deadline)) return true;
  *error = "cannot connect to the esg control plane at " + Where() +
           (target_.address.empty() ? "" : " (check the address and the TLS files)");
  return false;
}

bool Client::Alive(std::chrono::system_clock::time_point deadline) {
  grpc::ClientContext context;
  context.set_deadline(deadline);
  ::grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = health_->Check(&context, ::grpc::health::v1::HealthCheckRequest(), &response);
  return status.error_code() != grpc::StatusCode::UNAVAILABLE;
}

std::string Client::Explain(const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE && target_.address.empty()) {
    std::string problem = ProbeUnixSocket();
    if (!problem.empty()) return problem;
    return "the esg master at " + Where() + " went away (" + status.error_message() + ")";
  }
  return status.error_message();
}

}  // namespace esg::esgctl
