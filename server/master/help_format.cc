// Click-style help rendering (see help_format.h).
#include "server/master/help_format.h"

#include <cctype>

#include "server/master/options.h"

namespace esg::cli {
namespace {

constexpr size_t kWidth = 78;           // click: min(terminal, 80) - 2
constexpr size_t kIndent = 2;           // options are indented by two spaces
constexpr size_t kFirstColumn = 32;     // min(longest, 30) + 2 spaces of column spacing
constexpr size_t kTextWidth = kWidth - kFirstColumn - 2;  // 44

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
// textwrap's "letter": a word character that is not a digit.
bool IsLetter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool IsWordPunct(char c) {
  return IsWordChar(c) || c == '!' || c == '"' || c == '\'' || c == '&' || c == '.' || c == ',' || c == '?';
}

// Position after an em-dash ("--" or longer, followed by a word character) starting at `p`, or 0.
size_t EmDashEnd(std::string_view text, size_t p) {
  size_t j = p;
  while (j < text.size() && text[j] == '-') ++j;
  return (j - p >= 2 && j < text.size() && IsWordChar(text[j])) ? j : 0;
}

// textwrap.TextWrapper.wordsep_re, step by step: a chunk is a whitespace run, an em-dash between words, or
// the shortest run of non-space characters ending (a) with a hyphen that has two letters (or
// "letter-letter") before it and "letter[-]letter" after it, (b) before whitespace or the end, or (c) before
// an em-dash that follows word punctuation.
std::vector<std::string> Chunks(std::string_view text) {
  std::vector<std::string> chunks;
  const size_t n = text.size();
  auto letter_at = [&](size_t i) { return i < n && IsLetter(text[i]); };
  size_t p = 0;
  while (p < n) {
    size_t end = p;
    if (IsSpace(text[p])) {
      while (end < n && IsSpace(text[end])) ++end;
    } else if (p > 0 && IsWordPunct(text[p - 1]) && EmDashEnd(text, p) != 0) {
      end = EmDashEnd(text, p);
    } else {
      size_t q = p + 1;
      while (true) {
        if (q < n && text[q] == '-') {
          bool before = (q >= 2 && letter_at(q - 1) && letter_at(q - 2)) ||
                        (q >= 3 && letter_at(q - 1) && text[q - 2] == '-' && letter_at(q - 3));
          bool after = letter_at(q + 1) &&
                       (letter_at(q + 2) || (q + 2 < n && text[q + 2] == '-' && letter_at(q + 3)));
          if (before && after) {
            end = q + 1;
            break;
          }
        }
        if (q == n || IsSpace(text[q])) {
          end = q;
          break;
        }
        if (IsWordPunct(text[q - 1]) && EmDashEnd(text, q) != 0) {
          end = q;
          break;
        }
        ++q;
      }
    }
    chunks.emplace_back(text.substr(p, end - p));
    p = end;
  }
  return chunks;
}

bool IsBlank(const std::string& s) {
  for (char c : s) {
    if (!IsSpace(c)) return false;
  }
  return true;
}

void AppendRow(std::string* out, const std::string& first, const std::string& second) {
  out->append(kIndent, ' ');
  out->append(first);
  if (second.empty()) {
    out->push_back('\n');
    return;
  }
  if (first.size() <= kFirstColumn - 2) {
    out->append(kFirstColumn - first.size(), ' ');
  } else {
    out->push_back('\n');
    out->append(kFirstColumn + kIndent, ' ');
  }
  std::vector<std::string> lines = WrapText(second, kTextWidth);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out->append(kFirstColumn + kIndent, ' ');
    out->append(lines[i]);
    out->push_back('\n');
  }
}

std::string FirstColumn(const OptionSpec& spec) {
  std::string first(spec.name);
  switch (spec.type) {
    case OptionType::kBoolPair:
      first += spec.boolean_value ? " " : " / ";
      first += spec.boolean_value ? spec.metavar : spec.off_name;
      break;
    case OptionType::kChoice:
      first += " [";
      first += spec.metavar;
      first += "]";
      break;
    case OptionType::kText:
    case OptionType::kInt:
    case OptionType::kFloat:
      first += " ";
      first += spec.metavar;
      break;
    case OptionType::kFlag:
    case OptionType::kAction:
      break;
  }
  return first;
}

}  // namespace

std::vector<std::string> WrapText(std::string_view text, size_t width) {
  // textwrap.TextWrapper._wrap_chunks with drop_whitespace and break_long_words.
  std::vector<std::string> chunks = Chunks(text);
  std::vector<std::string> lines;
  size_t next = 0;
  while (next < chunks.size()) {
    if (!lines.empty() && IsBlank(chunks[next])) ++next;
    std::vector<std::string> line;
    size_t length = 0;
    while (next < chunks.size() && length + chunks[next].size() <= width) {
      length += chunks[next].size();
      line.push_back(chunks[next++]);
    }
    if (next < chunks.size() && chunks[next].size() > width) {
      std::string& chunk = chunks[next];
      size_t space_left = width < 1 ? 1 : width - length;
      size_t cut = space_left;
      size_t hyphen = space_left == 0 ? std::string::npos : chunk.rfind('-', space_left - 1);
      if (hyphen != std::string::npos && hyphen > 0 &&
          chunk.find_first_not_of('-') < hyphen) {
        cut = hyphen + 1;
      }
      line.push_back(chunk.substr(0, cut));
      chunk.erase(0, cut);
    }
    if (!line.empty() && IsBlank(line.back())) line.pop_back();
    std::string joined;
    for (const std::string& piece : line) joined += piece;
    if (!line.empty()) lines.push_back(joined);
  }
  return lines;
}

std::string_view UsageLine() { return "Usage: esg [OPTIONS] APP"; }

std::string HelpText() {
  std::string out(UsageLine());
  out += "\n\nOptions:\n";
  for (const OptionSpec& spec : Options()) {
    std::string help(spec.help);
    if (size_t at = help.find("{default}"); at != std::string::npos) help.replace(at, 9, DefaultText(spec));
    if (spec.show_default) {
      help += "  [default: ";
      help += DefaultText(spec);
      help += "]";
    }
    AppendRow(&out, FirstColumn(spec), help);
  }
  return out;
}

}  // namespace esg::cli
