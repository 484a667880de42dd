#include "oci/manifest.h"

#include <limits>

#include <fmt/format.h>

#include "util/error.h"

namespace sealift::oci {

using nlohmann::json;

namespace media {

bool is_index(std::string_view media_type) { return media_type == kOciIndex || media_type == kDockerManifestList; }

bool is_manifest(std::string_view media_type) {
  return media_type == kOciManifest || media_type == kDockerManifest;
}

std::string accept_header() {
  return fmt::format("{}, {}, {}, {}", kOciIndex, kOciManifest, kDockerManifestList, kDockerManifest);
}

}  // namespace media

namespace {

constexpr std::string_view kDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
constexpr std::string_view kDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";

[[noreturn]] void bad(std::string_view where, std::string_view why) {
  throw Error(ErrorKind::Input, fmt::format("{}: {}", where, why));
}

std::string_view type_name(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_float: return "a fractional number";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    default: return "an unexpected value";
  }
}

std::string field(std::string_view where, std::string_view key) {
  return where.empty() ? std::string(key) : fmt::format("{}.{}", where, key);
}

const json* find(const json& obj, std::string_view key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

std::string get_string(const json& obj, std::string_view where, std::string_view key, bool required) {
  const json* v = find(obj, key);
  if (!v) {
    if (required) bad(field(where, key), "missing");
    return {};
  }
  if (!v->is_string()) bad(field(where, key), fmt::format("must be a string, found {}", type_name(*v)));
  return v->get<std::string>();
}

std::map<std::string, std::string> get_annotations(const json& obj, std::string_view where) {
  std::map<std::string, std::string> out;
  const json* v = find(obj, "annotations");
  if (!v) return out;
  std::string at = field(where, "annotations");
  if (!v->is_object()) bad(at, fmt::format("must be an object, found {}", type_name(*v)));
  for (const auto& [k, val] : v->items()) {
    if (!val.is_string()) bad(fmt::format("{}[\"{}\"]", at, k), fmt::format("must be a string, found {}", type_name(val)));
    out.emplace(k, val.get<std::string>());
  }
  return out;
}

Platform platform_from_json(const json& j, std::string_view where) {
  if (!j.is_object()) bad(where, fmt::format("must be an object, found {}", type_name(j)));
  Platform p;
  p.os = get_string(j, where, "os", true);
  p.architecture = get_string(j, where, "architecture", true);
  p.variant = get_string(j, where, "variant", false);
  p.os_version = get_string(j, where, "os.version", false);
  if (p.os.empty()) bad(field(where, "os"), "empty");
  if (p.architecture.empty()) bad(field(where, "architecture"), "empty");
  return p;
}

// What a platform means once defaults are applied: arm64 without a variant is arm64/v8, so an
// index listing "linux/arm64" satisfies a request for "linux/arm64/v8" and the other way round.
std::string effective_variant(const Platform& p) {
  if (p.architecture == "arm64" && p.variant == "v8") return {};
  return p.variant;
}

std::string strip_params(std::string_view content_type) {
  std::string_view t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  return std::string(t);
}

bool is_schema1(std::string_view media_type) {
  return media_type == kDockerSchema1 || media_type == kDockerSchema1Signed;
}

}  // namespace

Platform Platform::parse(std::string_view input) {
  // Lowercased like containerd and docker do, so "linux/AMD64" means what the user meant.
  std::string text(input);
  for (char& c : text)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t slash = text.find('/', start);
    parts.push_back(std::string_view(text).substr(start, slash == std::string::npos ? text.size() - start : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  bool ok = parts.size() == 2 || parts.size() == 3;
  for (std::string_view p : parts) {
    if (p.empty()) ok = false;
    for (char c : p)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) ok = false;
  }
  if (!ok)
    throw Error(ErrorKind::Input, fmt::format("invalid platform \"{}\": expected os/architecture[/variant]", input),
                "for example linux/amd64 or linux/arm64/v8");
  Platform p;
  p.os = std::string(parts[0]);
  p.architecture = std::string(parts[1]);
  if (parts.size() == 3) p.variant = std::string(parts[2]);
  return p;
}

std::string Platform::str() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

bool Platform::matches(const Platform& other) const {
  if (os != other.os || architecture != other.architecture) return false;
  if (!os_version.empty() && os_version != other.os_version) return false;
  std::string want = effective_variant(*this);
  return want.empty() || want == effective_variant(other);
}

Descriptor Descriptor::from_json(const json& j, std::string_view where) {
  if (!j.is_object()) bad(where, fmt::format("must be an object, found {}", type_name(j)));
  Descriptor d;
  d.media_type = get_string(j, where, "mediaType", true);
  if (d.media_type.empty()) bad(field(where, "mediaType"), "empty");

  std::string digest = get_string(j, where, "digest", true);
  try {
    d.digest = Digest::parse(digest);
  } catch (const Error& e) {
    bad(field(where, "digest"), e.what());
  }

  const json* size = find(j, "size");
  if (!size) bad(field(where, "size"), "missing");
  if (size->is_number_unsigned()) {
    if (size->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      bad(field(where, "size"), "too large");
    d.size = static_cast<int64_t>(size->get<uint64_t>());
  } else if (size->is_number_integer()) {
    d.size = size->get<int64_t>();
  } else {
    bad(field(where, "size"), fmt::format("must be an integer, found {}", type_name(*size)));
  }
  if (d.size < 0) bad(field(where, "size"), fmt::format("negative size {}", d.size));

  if (const json* urls = find(j, "urls")) {
    if (!urls->is_array()) bad(field(where, "urls"), fmt::format("must be an array, found {}", type_name(*urls)));
    for (size_t i = 0; i < urls->size(); ++i) {
      const json& u = (*urls)[i];
      if (!u.is_string())
        bad(fmt::format("{}[{}]", field(where, "urls"), i), fmt::format("must be a string, found {}", type_name(u)));
      d.urls.push_back(u.get<std::string>());
    }
  }
  d.annotations = get_annotations(j, where);
  if (const json* p = find(j, "platform")) d.platform = platform_from_json(*p, field(where, "platform"));
  d.artifact_type = get_string(j, where, "artifactType", false);
  return d;
}

nlohmann::ordered_json Descriptor::to_json() const {
  nlohmann::ordered_json j;
  j["mediaType"] = media_type;
  j["digest"] = digest.str();
  j["size"] = size;
  if (!urls.empty()) j["urls"] = urls;
  if (!annotations.empty()) {
    nlohmann::ordered_json a = nlohmann::ordered_json::object();
    for (const auto& [k, v] : annotations) a[k] = v;
    j["annotations"] = std::move(a);
  }
  if (platform) {
    nlohmann::ordered_json p;
    p["architecture"] = platform->architecture;
    p["os"] = platform->os;
    if (!platform->os_version.empty()) p["os.version"] = platform->os_version;
    if (!platform->variant.empty()) p["variant"] = platform->variant;
    j["platform"] = std::move(p);
  }
  if (!artifact_type.empty()) j["artifactType"] = artifact_type;
  return j;
}

Manifest Manifest::parse(std::string bytes, std::string_view media_type) {
  Manifest m;
  m.digest_ = Digest::of(bytes);
  m.bytes_ = std::move(bytes);
  std::string what = fmt::format("manifest {}", m.digest_.str());

  // nlohmann skips a byte order mark; Go's encoding/json, which every registry uses, does not.
  if (m.bytes_.starts_with("\xef\xbb\xbf")) bad(what, "not valid JSON: starts with a UTF-8 byte order mark");
  json doc;
  try {
    doc = json::parse(m.bytes_);
  } catch (const json::exception& e) {
    // A syntax error, or a number out of range (out_of_range.406, e.g. 1e400; found by fuzzing).
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix; the position is what matters.
    std::string msg = e.what();
    if (size_t close = msg.find("] "); close != std::string::npos) msg = msg.substr(close + 2);
    bad(what, fmt::format("not valid JSON: {}", msg));
  }
  if (!doc.is_object()) bad(what, fmt::format("must be a JSON object, found {}", type_name(doc)));

  try {
    std::string declared = get_string(doc, "", "mediaType", false);
    std::string given = strip_params(media_type);
    const json* version = find(doc, "schemaVersion");

    if (is_schema1(given) || is_schema1(declared) || (version && *version == 1))
      throw Error(ErrorKind::Input, "Docker schema 1 manifests are not supported",
                  "pull the image with a current client or ask its publisher for a schema 2 or OCI manifest");
    if (!version) bad("schemaVersion", "missing");
    if (!version->is_number_integer()) bad("schemaVersion", fmt::format("must be an integer, found {}", type_name(*version)));
    if (*version != 2) bad("schemaVersion", fmt::format("must be 2, found {}", version->dump()));

    bool given_known = media::is_index(given) || media::is_manifest(given);
    if (given_known && !declared.empty() && declared != given)
      bad("mediaType", fmt::format("\"{}\" contradicts the Content-Type \"{}\"", declared, given));
    if (given_known) {
      m.media_type_ = given;
    } else if (!declared.empty()) {
      m.media_type_ = declared;
    } else if (doc.contains("manifests")) {
      m.media_type_ = media::kOciIndex;
    } else if (doc.contains("config") && doc.contains("layers")) {
      m.media_type_ = media::kOciManifest;
    } else {
      bad("mediaType", "missing, and the document has neither \"manifests\" nor \"config\" and \"layers\"");
    }
    if (!media::is_index(m.media_type_) && !media::is_manifest(m.media_type_))
      bad("mediaType", fmt::format("unsupported manifest type \"{}\"", m.media_type_));

    auto list = [&](std::string_view key) {
      std::vector<Descriptor> out;
      const json* arr = find(doc, key);
      if (!arr) bad(key, "missing");
      if (!arr->is_array()) bad(key, fmt::format("must be an array, found {}", type_name(*arr)));
      for (size_t i = 0; i < arr->size(); ++i) out.push_back(Descriptor::from_json((*arr)[i], fmt::format("{}[{}]", key, i)));
      return out;
    };

    if (m.is_index()) {
      m.manifests_ = list("manifests");
    } else {
      const json* config = find(doc, "config");
      if (!config) bad("config", "missing");
      m.config_ = Descriptor::from_json(*config, "config");
      m.layers_ = list("layers");
    }
    if (const json* subject = find(doc, "subject")) m.subject_ = Descriptor::from_json(*subject, "subject");
    m.artifact_type_ = get_string(doc, "", "artifactType", false);
    m.annotations_ = get_annotations(doc, "");
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("{}: {}", what, e.what()), e.hint());
  }
  return m;
}

std::vector<Descriptor> Manifest::children() const {
  if (is_index()) return manifests_;
  std::vector<Descriptor> out;
  out.reserve(layers_.size() + 1);
  out.push_back(config_);
  out.insert(out.end(), layers_.begin(), layers_.end());
  return out;
}

Descriptor Manifest::descriptor() const {
  Descriptor d;
  d.media_type = media_type_;
  d.digest = digest_;
  d.size = size();
  d.artifact_type = artifact_type_;
  return d;
}

}  // namespace sealift::oci
