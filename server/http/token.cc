// The token-character table lives in token.h (constexpr, so every check inlines); this unit only keeps
// the header compiled on its own.
#include "server/http/token.h"

namespace esg::http {
static_assert(token_detail::kTokenTable['a'] && token_detail::kTokenTable['~'] && !token_detail::kTokenTable[':'] &&
              !token_detail::kTokenTable[' '] && !token_detail::kTokenTable[0x80]);
}  // namespace esg::http
