// Click-style help rendering for `esg --help`.
//
// Reproduces click's HelpFormatter (78 columns, option column 32 wide, help text wrapped to 44 columns and
// continued at column 34) and Python's textwrap rules (break on whitespace and after hyphens inside words),
// so the seed's help block comes out byte for byte.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace esg::cli {

// Python textwrap.wrap(text, width) with textwrap's defaults (break_on_hyphens, drop_whitespace,
// break_long_words) and replace_whitespace=False as click uses it.
std::vector<std::string> WrapText(std::string_view text, size_t width);

// The whole `esg --help` output, ending with a newline.
std::string HelpText();

// "Usage: esg [OPTIONS] APP" (no newline).
std::string_view UsageLine();

}  // namespace esg::cli
