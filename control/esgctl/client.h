// esgctl's connection to a master: the channel (UNIX socket, or TCP with mutual TLS), the stubs, and the
// sentences for "no server there". Rebuilds the channel when the server went away, so an interactive
// session survives a master restart.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "esg/control/v1/control.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace esg::esgctl {

namespace v1 = ::esg::control::v1;

struct Target {
  std::string socket_path;  // used when `address` is empty
  std::string address;      // host:port (TLS)
  std::string tls_cert, tls_key, tls_ca;
};

class Client {
 public:
  explicit Client(Target target) : target_(std::move(target)) {}

  // Connects (or reconnects) within `timeout_ms`. False with a sentence naming the socket/address and
  // what to do: no socket file, nobody listening (stale socket), permission denied, TLS files unreadable.
  bool Connect(int timeout_ms, std::string* error);

  v1::Control::Stub& control() { return *control_; }
  ::grpc::health::v1::Health::Stub& health() { return *health_; }
  const Target& target() const { return target_; }
  std::string Where() const;  // "unix:/run/esg/control.sock" or "127.0.0.1:7000 (TLS)"

  // Turns a failed status into the line esgctl prints (UNAVAILABLE gets the connection sentence).
  std::string Explain(const grpc::Status& status);

 private:
  bool MakeChannel(std::string* error);
  bool Alive(std::chrono::system_clock::time_point deadline);
  std::string ProbeUnixSocket();  // "" when something accepts on the path

  Target target_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Control::Stub> control_;
  std::unique_ptr<::grpc::health::v1::Health::Stub> health_;
};

}  // namespace esg::esgctl
