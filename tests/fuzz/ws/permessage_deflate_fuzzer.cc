// Fuzz target: the permessage-deflate inflater (PerMessageDeflate::Inflate) on arbitrary compressed
// messages, and the server's deflater round-tripped through it.
//
// Input: byte 0 = flags (bit 0: no context takeover, bits 1-3: inflated-size limit from kLimits), byte 1 =
// seed of the split, the rest = messages, each a 2-byte big-endian length and that many bytes (the last one
// takes what is left). Each message is inflated whole on one inflater and in pseudo-random pieces on
// another: it must terminate (libFuzzer's timeout), never produce more than the limit, and when either
// run succeeds both succeed with the same text (split invariance). A failed inflater is replaced, as the
// connection would close. Then the same bytes, as plain messages, go through the server's Compress and
// back through an inflater with the same parameters, and must come out unchanged.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/permessage_deflate.h"

namespace {

using esg::http::DeflateParams;
using esg::http::PerMessageDeflate;
using Result = PerMessageDeflate::InflateResult;

constexpr size_t kLimits[8] = {0, 1, 16, 1000, 16384, 65536, 1 << 20, 1 << 24};

void Check(bool ok) {
  if (!ok) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  DeflateParams params;
  params.server_no_context_takeover = params.client_no_context_takeover = data[0] & 1;
  size_t limit = kLimits[(data[0] >> 1) & 7];
  uint32_t seed = data[1] * 2654435761u + 1;
  data += 2;
  size -= 2;
  std::vector<std::string_view> messages;
  while (size > 0) {
    size_t n = size >= 2 ? (size_t{data[0]} << 8 | data[1]) : size;
    size_t skip = size >= 2 ? 2 : 0;
    n = std::min(n, size - skip);
    messages.emplace_back(reinterpret_cast<const char*>(data + skip), n);
    data += skip + n;
    size -= skip + n;
  }

  auto whole = std::make_unique<PerMessageDeflate>(params);
  auto split = std::make_unique<PerMessageDeflate>(params);
  for (std::string_view m : messages) {
    std::string a, b;
    Result ra = whole->Inflate(m, /*last=*/true, limit, &a);
    Check(a.size() <= limit);
    Result rb = Result::kOk;
    size_t pos = 0;
    do {
      seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
      size_t n = std::min<size_t>(seed % 64, m.size() - pos);
      bool last = pos + n == m.size();
      rb = split->Inflate(m.substr(pos, n), last, limit, &b);
      Check(b.size() <= limit);
      pos += n;
      if (last) break;
    } while (rb == Result::kOk);
    if (ra == Result::kOk || rb == Result::kOk) Check(ra == rb && a == b);
    if (ra != Result::kOk) whole = std::make_unique<PerMessageDeflate>(params);
    if (rb != Result::kOk) split = std::make_unique<PerMessageDeflate>(params);
    // The two inflaters must stay in step (same window) for the comparison to hold on later messages.
    if ((ra == Result::kOk) != (rb == Result::kOk)) return 0;
  }

  PerMessageDeflate server(params), client(params);
  for (std::string_view m : messages) {
    std::string z, back;
    Check(server.Compress(m, &z));
    bool too_big = false;
    Check(client.Decompress(z, m.size(), &back, &too_big));
    Check(back == m);
  }
  return 0;
}
