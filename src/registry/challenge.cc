#include "registry/challenge.h"

#include <cctype>

#include <fmt/format.h>

#include "util/encoding.h"
#include "util/error.h"

namespace sealift::registry {

namespace {

bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  std::vector<Challenge> parse() {
    std::vector<Challenge> out;
    skip_separators();
    while (!at_end()) {
      Challenge c;
      std::string scheme = token();
      if (scheme.empty()) fail("expected an authentication scheme");
      c.scheme = util::ascii_lower(scheme);
      skip_spaces();
      parse_params(c);
      out.push_back(std::move(c));
      skip_separators();
    }
    if (out.empty()) fail("no challenge");
    return out;
  }

 private:
  // After the scheme: either auth-params (name=value, comma separated) or one token68, up to the
  // next challenge, which starts where a token is followed by a space or the end (not by '=').
  void parse_params(Challenge& c) {
    if (at_end() || peek() == ',') return;
    size_t start = pos_;
    std::string name = token();
    skip_spaces();
    if (name.empty() || at_end() || peek() != '=' || token68_tail()) {
      pos_ = start;
      std::string t68 = token68();
      if (t68.empty()) fail("expected a parameter after the scheme");
      c.params[""] = t68;
      return;
    }
    pos_ = start;
    for (;;) {
      size_t param_start = pos_;
      std::string pname = token();
      skip_spaces();
      if (pname.empty() || at_end() || peek() != '=') {
        // A new challenge begins here.
        pos_ = param_start;
        return;
      }
      ++pos_;  // '='
      skip_spaces();
      std::string value;
      if (!at_end() && peek() == '"') {
        value = quoted();
      } else {
        value = token();
        if (value.empty()) fail(fmt::format("parameter '{}' has no value", pname));
      }
      c.params[util::ascii_lower(pname)] = value;
      skip_spaces();
      if (at_end()) return;
      if (peek() != ',') fail(fmt::format("unexpected '{}' after parameter '{}'", peek(), pname));
      // Consume the comma(s); what follows is either another parameter or a new challenge.
      while (!at_end() && (peek() == ',' || peek() == ' ' || peek() == '\t')) ++pos_;
      if (at_end()) return;
    }
  }

  // A token68 ends in '=' padding only; "name=value" has something after the '='.
  bool token68_tail() const {
    size_t p = pos_;
    while (p < s_.size() && s_[p] == '=') ++p;
    while (p < s_.size() && (s_[p] == ' ' || s_[p] == '\t')) ++p;
    return p >= s_.size() || s_[p] == ',';
  }

  std::string token68() {
    size_t start = pos_;
    while (!at_end() && (std::isalnum(static_cast<unsigned char>(peek())) ||
                         std::string_view("-._~+/").find(peek()) != std::string_view::npos))
      ++pos_;
    while (!at_end() && peek() == '=') ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }

  std::string token() {
    size_t start = pos_;
    while (!at_end() && is_tchar(peek())) ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }

  std::string quoted() {
    ++pos_;  // opening quote
    std::string out;
    while (!at_end()) {
      char c = s_[pos_++];
      if (c == '"') return out;
      if (c == '\\') {
        if (at_end()) break;
        c = s_[pos_++];
      }
      out.push_back(c);
    }
    fail("unterminated quoted string");
  }

  void skip_spaces() {
    while (!at_end() && (peek() == ' ' || peek() == '\t')) ++pos_;
  }
  void skip_separators() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == ',')) ++pos_;
  }
  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return s_[pos_]; }

  [[noreturn]] void fail(const std::string& why) const {
    throw Error(ErrorKind::Remote,
                fmt::format("the registry sent a malformed WWW-Authenticate header ({} at offset {})", why, pos_));
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

std::string Challenge::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

std::vector<Challenge> parse_challenges(std::string_view header) { return Parser(header).parse(); }

}  // namespace sealift::registry
