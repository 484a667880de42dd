#include "sign/pem.h"

#include <fmt/format.h>

#include "util/encoding.h"
#include "util/error.h"

namespace sealift::sign {

namespace {
constexpr std::string_view kBegin = "-----BEGIN ";
constexpr std::string_view kEnd = "-----END ";
constexpr std::string_view kDashes = "-----";
constexpr size_t kLineLength = 64;
}  // namespace

std::string pem_encode(std::string_view label, std::string_view body) {
  std::string b64 = util::base64_encode(body);
  std::string out = fmt::format("{}{}{}\n", kBegin, label, kDashes);
  for (size_t i = 0; i < b64.size(); i += kLineLength) {
    out.append(b64, i, kLineLength);
    out.push_back('\n');
  }
  out += fmt::format("{}{}{}\n", kEnd, label, kDashes);
  return out;
}

PemBlock pem_decode(std::string_view text, std::string_view what) {
  size_t begin = text.find(kBegin);
  while (begin != std::string_view::npos && begin != 0 && text[begin - 1] != '\n') begin = text.find(kBegin, begin + 1);
  if (begin == std::string_view::npos)
    throw Error(ErrorKind::Input, fmt::format("{} is not a PEM file: no -----BEGIN line", what));
  size_t label_start = begin + kBegin.size();
  size_t line_end = text.find('\n', label_start);
  if (line_end == std::string_view::npos) line_end = text.size();
  std::string_view header = text.substr(label_start, line_end - label_start);
  if (!header.empty() && header.back() == '\r') header.remove_suffix(1);
  if (header.size() < kDashes.size() || header.substr(header.size() - kDashes.size()) != kDashes)
    throw Error(ErrorKind::Input, fmt::format("{}: malformed PEM BEGIN line", what));
  PemBlock block;
  block.label = std::string(header.substr(0, header.size() - kDashes.size()));

  std::string end_line = fmt::format("{}{}{}", kEnd, block.label, kDashes);
  size_t body_start = std::min(line_end + 1, text.size());
  size_t end = text.find(end_line, body_start);
  if (end == std::string_view::npos)
    throw Error(ErrorKind::Input, fmt::format("{}: PEM block \"{}\" has no END line (truncated file?)", what, block.label));
  std::string_view body = text.substr(body_start, end - body_start);
  if (body.find(':') != std::string_view::npos)
    throw Error(ErrorKind::Input, fmt::format("{}: PEM headers are not supported", what));
  std::string clean;
  clean.reserve(body.size());
  for (char c : body)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') clean.push_back(c);
  try {
    block.body = util::base64_decode(clean);
  } catch (const Error& e) {
    throw Error(ErrorKind::Input, fmt::format("{}: PEM body is not valid base64 ({})", what, e.what()));
  }
  if (block.body.empty()) throw Error(ErrorKind::Input, fmt::format("{}: PEM block \"{}\" is empty", what, block.label));
  return block;
}

}  // namespace sealift::sign
