// The token-character table (see token.h).
#include "server/http/token.h"

namespace esg::http {
namespace {

struct TokenTable {
  bool ok[256] = {};
  TokenTable() {
    for (int c = '0'; c <= '9'; ++c) ok[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) ok[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) ok[c] = true;
    for (const char* p = "!#$%&'*+-.^_`|~"; *p; ++p) ok[static_cast<unsigned char>(*p)] = true;
  }
};
const TokenTable kToken;

}  // namespace

bool IsTokenChar(unsigned char c) { return kToken.ok[c]; }

}  // namespace esg::http
