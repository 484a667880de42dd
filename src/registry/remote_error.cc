#include "registry/remote_error.h"

#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace sealift::registry {

namespace {

std::string_view reason_phrase(long status) {
  switch (status) {
    case 400: return "bad request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 408: return "request timeout";
    case 409: return "conflict";
    case 413: return "payload too large";
    case 416: return "range not satisfiable";
    case 429: return "too many requests";
    case 500: return "internal server error";
    case 501: return "not implemented";
    case 502: return "bad gateway";
    case 503: return "service unavailable";
    case 504: return "gateway timeout";
    default: return "unexpected status";
  }
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// A short, single-line, printable body (a proxy's "upstream connect error") is worth showing; an
// HTML page is not.
std::string plain_text_snippet(std::string_view body) {
  while (!body.empty() && std::isspace(static_cast<unsigned char>(body.back()))) body.remove_suffix(1);
  while (!body.empty() && std::isspace(static_cast<unsigned char>(body.front()))) body.remove_prefix(1);
  if (body.empty() || body.size() > 200 || body.front() == '<' || body.front() == '{') return {};
  for (char c : body)
    if (c == '\n' || static_cast<unsigned char>(c) < 0x20) return {};
  return std::string(body);
}

}  // namespace

std::vector<RemoteError> parse_remote_errors(std::string_view body) {
  std::vector<RemoteError> out;
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("errors") || !doc["errors"].is_array()) return out;
  for (const auto& e : doc["errors"]) {
    if (!e.is_object()) continue;
    RemoteError r;
    if (e.contains("code") && e["code"].is_string()) r.code = e["code"].get<std::string>();
    if (e.contains("message") && e["message"].is_string()) r.message = e["message"].get<std::string>();
    if (e.contains("detail") && !e["detail"].is_null()) r.detail = e["detail"].dump();
    if (!r.code.empty() || !r.message.empty()) out.push_back(std::move(r));
  }
  return out;
}

std::string code_words(std::string_view code) {
  std::string out;
  for (char c : code) out.push_back(c == '_' ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

std::string describe_status(long status, std::string_view body) {
  std::vector<RemoteError> errors = parse_remote_errors(body);
  if (errors.empty()) {
    std::string snippet = plain_text_snippet(body);
    if (!snippet.empty()) return fmt::format("{} {}: {}", status, reason_phrase(status), snippet);
    return fmt::format("{} {}", status, reason_phrase(status));
  }
  std::string out = std::to_string(status);
  for (size_t i = 0; i < errors.size(); ++i) {
    const RemoteError& e = errors[i];
    std::string words = e.code.empty() ? std::string(reason_phrase(status)) : code_words(e.code);
    out += i ? "; " : " ";
    out += words;
    if (!e.message.empty() && !iequal(e.message, words)) out += ": " + e.message;
  }
  return out;
}

bool has_error_code(std::string_view body, std::string_view code) {
  for (const auto& e : parse_remote_errors(body))
    if (e.code == code) return true;
  return false;
}

bool project_unknown(const HttpResponse& r) {
  return !r.failed() && r.status == 401 && r.has_header("www-authenticate") && r.header("www-authenticate").empty();
}

bool repository_unknown(const HttpResponse& r) {
  if (project_unknown(r)) return true;
  return r.status == 404 && (has_error_code(r.body, "NAME_UNKNOWN") || has_error_code(r.body, "NOT_FOUND"));
}

bool content_unknown(const HttpResponse& r) { return !r.failed() && (r.status == 404 || project_unknown(r)); }

bool references_unknown(const HttpResponse& r) {
  return has_error_code(r.body, "MANIFEST_BLOB_UNKNOWN") || has_error_code(r.body, "BLOB_UNKNOWN") ||
         (r.status == 404 && has_error_code(r.body, "NOT_FOUND"));
}

bool upload_unknown(const HttpResponse& r) {
  if (r.failed()) return false;
  return r.status == 404 || (r.status == 400 && (has_error_code(r.body, "BLOB_UPLOAD_INVALID") ||
                                                 has_error_code(r.body, "BLOB_UPLOAD_UNKNOWN")));
}

bool content_mismatch(const HttpResponse& r) {
  return has_error_code(r.body, "DIGEST_INVALID") || has_error_code(r.body, "SIZE_INVALID");
}

bool api_not_found(const HttpResponse& r) { return !r.failed() && r.status == 404; }

bool api_conflict(const HttpResponse& r) { return !r.failed() && r.status == 409; }

}  // namespace sealift::registry
