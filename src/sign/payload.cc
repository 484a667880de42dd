#include "sign/payload.h"

#include <cmath>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sign/gojson.h"
#include "util/error.h"

namespace sealift::sign {

namespace {

[[noreturn]] void invalid(std::string_view why) {
  throw Error(ErrorKind::Integrity, fmt::format("invalid simple-signing payload: {}", why));
}

// nlohmann keeps the last of duplicate keys silently; containers/image rejects duplicates, and
// so must we, or two parsers could read different digests out of one signed payload.
nlohmann::json parse_rejecting_duplicates(std::string_view text) {
  std::vector<std::set<std::string>> seen;
  auto callback = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::object_start) {
      seen.emplace_back();
    } else if (event == E::object_end) {
      seen.pop_back();
    } else if (event == E::key) {
      if (!seen.back().insert(parsed.get<std::string>()).second)
        invalid(fmt::format("duplicate key \"{}\"", parsed.get<std::string>()));
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text, callback);
  } catch (const nlohmann::json::exception&) {
    invalid("not valid JSON");
  }
}

// An object with exactly these keys, as containers/image's ParanoidUnmarshalJSONObjectExactFields.
const nlohmann::json& exact_object(const nlohmann::json& j, std::string_view where,
                                   std::initializer_list<std::string_view> keys) {
  if (!j.is_object()) invalid(fmt::format("{} is not an object", where));
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (auto k : keys) known |= it.key() == k;
    if (!known) invalid(fmt::format("unexpected field \"{}\" in {}", it.key(), where));
  }
  for (auto k : keys)
    if (!j.contains(std::string(k))) invalid(fmt::format("missing field \"{}\" in {}", k, where));
  return j;
}

std::string string_field(const nlohmann::json& j, const char* key, std::string_view where) {
  const auto& v = j.at(key);
  if (!v.is_string()) invalid(fmt::format("{}.{} is not a string", where, key));
  return v.get<std::string>();
}

}  // namespace

std::string SimpleSigningPayload::bytes() const {
  std::string optional = "null";
  if (!annotations.empty()) {
    // Go writes map keys sorted, as std::map iterates.
    optional = "{";
    for (const auto& [k, v] : annotations) {
      if (optional.size() > 1) optional += ",";
      optional += go_json_quote(k) + ":" + go_json_quote(v);
    }
    optional += "}";
  }
  return fmt::format(
      R"({{"critical":{{"identity":{{"docker-reference":{}}},"image":{{"docker-manifest-digest":{}}},"type":{}}},"optional":{}}})",
      go_json_quote(docker_reference), go_json_quote(manifest_digest.str()), go_json_quote(kCosignSignatureType),
      optional);
}

SimpleSigningPayload SimpleSigningPayload::parse(std::string_view text) {
  nlohmann::json doc = parse_rejecting_duplicates(text);
  exact_object(doc, "the payload", {"critical", "optional"});
  const auto& critical = exact_object(doc.at("critical"), "critical", {"type", "image", "identity"});
  std::string type = string_field(critical, "type", "critical");
  if (type != kCosignSignatureType) invalid(fmt::format("unrecognised signature type \"{}\"", type));
  const auto& image = exact_object(critical.at("image"), "critical.image", {"docker-manifest-digest"});
  const auto& identity = exact_object(critical.at("identity"), "critical.identity", {"docker-reference"});

  SimpleSigningPayload p;
  std::string digest = string_field(image, "docker-manifest-digest", "critical.image");
  if (!oci::Digest::valid(digest)) invalid(fmt::format("docker-manifest-digest \"{}\" is not a sha256 digest", digest));
  p.manifest_digest = oci::Digest::parse(digest);
  p.docker_reference = string_field(identity, "docker-reference", "critical.identity");

  const auto& optional = doc.at("optional");
  if (optional.is_null()) return p;
  if (!optional.is_object()) invalid("optional is neither null nor an object");
  for (auto it = optional.begin(); it != optional.end(); ++it) {
    // containers/image reads the timestamp as a float64 and demands an integral value.
    bool integral = it->is_number_integer() || (it->is_number_float() && std::trunc(it->get<double>()) == it->get<double>() &&
                                                std::fabs(it->get<double>()) < 9.2e18);
    if (it.key() == "timestamp" && !integral) invalid("optional.timestamp is not an integer");
    if (it.key() == "creator" && !it->is_string()) invalid("optional.creator is not a string");
    if (it->is_string()) p.annotations.emplace(it.key(), it->get<std::string>());
  }
  return p;
}

}  // namespace sealift::sign
