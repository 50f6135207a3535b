// The plain transport: direct read(2)/writev(2) on the connection's descriptor.
#include "server/engine/transport.h"

#include <unistd.h>

namespace esg::engine {
namespace {

class PlainTransport final : public Transport {
 public:
  explicit PlainTransport(int fd) : fd_(fd) {}
  ssize_t Read(char* buffer, size_t length) override { return read(fd_, buffer, length); }
  ssize_t Writev(const struct iovec* iov, int count) override { return writev(fd_, iov, count); }

 private:
  int fd_;
};

}  // namespace

std::unique_ptr<Transport> MakePlainTransport(int fd) { return std::make_unique<PlainTransport>(fd); }

}  // namespace esg::engine
