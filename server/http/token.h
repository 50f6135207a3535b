// RFC 9110 §5.6.2 token characters (header names, methods, WebSocket subprotocols): one lookup table
// shared by the request parser and the response encoder, built at compile time so the check inlines.
#pragma once

#include <array>

namespace esg::http {
namespace token_detail {

constexpr std::array<bool, 256> MakeTokenTable() {
  std::array<bool, 256> ok{};
  for (int c = '0'; c <= '9'; ++c) ok[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) ok[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) ok[c] = true;
  for (const char* p = "!#$%&'*+-.^_`|~"; *p; ++p) ok[static_cast<unsigned char>(*p)] = true;
  return ok;
}

inline constexpr std::array<bool, 256> kTokenTable = MakeTokenTable();
static_assert(kTokenTable['a'] && kTokenTable['~'] && !kTokenTable[':'] && !kTokenTable[' '] && !kTokenTable[0x80]);

}  // namespace token_detail

inline bool IsTokenChar(unsigned char c) { return token_detail::kTokenTable[c]; }

}  // namespace esg::http
