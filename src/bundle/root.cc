#include "bundle/root.h"

#include <cerrno>
#include <cstdlib>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "chart/metadata.h"
#include "util/error.h"

namespace sealift::bundle {

using nlohmann::ordered_json;

namespace {

[[noreturn]] void bad(const std::string& field, const std::string& why) {
  throw Error(ErrorKind::Input, fmt::format("sealift.json: {}: {}", field, why),
              "the bundle is damaged or was not written by sealift");
}

const ordered_json& need(const ordered_json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) bad(where.empty() ? key : where + "." + key, "missing");
  return j.at(key);
}

std::string str(const ordered_json& j, const char* key, const std::string& where) {
  const auto& v = need(j, key, where);
  if (!v.is_string()) bad(where.empty() ? key : where + "." + key, "must be a string");
  return v.get<std::string>();
}

oci::Digest digest(const ordered_json& j, const char* key, const std::string& where) {
  std::string s = str(j, key, where);
  try {
    return oci::Digest::parse(s);
  } catch (const Error& e) {
    bad(where.empty() ? key : where + "." + key, e.what());
  }
}

int64_t integer(const ordered_json& j, const char* key, const std::string& where) {
  const auto& v = need(j, key, where);
  if (!v.is_number_integer() || v.get<int64_t>() < 0)
    bad(where.empty() ? key : where + "." + key, "must be a non-negative integer");
  return v.get<int64_t>();
}

}  // namespace

std::string Root::serialize() const {
  ordered_json j;
  j["formatVersion"] = format_version;
  j["name"] = name;
  j["version"] = version;
  j["created"] = created;
  j["tool"] = tool;
  j["index"] = {{"digest", index.str()}, {"size", index_size}};
  j["platforms"] = platforms;
  ordered_json imgs = ordered_json::array();
  for (const auto& i : images) {
    imgs.push_back({{"source", i.source},
                    {"digest", i.digest.str()},
                    {"mediaType", i.media_type},
                    {"upstreamDigest", i.upstream_digest.str()},
                    {"signature", i.signature.str()}});
    if (format_version >= 2) imgs.back()["sigstoreBundle"] = i.referrer.str();
    auto digests = [&](const char* key, const std::vector<oci::Digest>& list) {
      if (list.empty()) return;
      ordered_json a = ordered_json::array();
      for (const auto& d : list) a.push_back(d.str());
      imgs.back()[key] = a;
    };
    digests("upstreamSigstoreBundles", i.upstream_signatures);
    digests("sboms", i.sboms);
    digests("upstreamAttestations", i.upstream_attestations);
  }
  j["images"] = imgs;
  j["chart"] = {{"name", chart.name},
                {"version", chart.version},
                {"reference", chart.reference},
                {"manifest", chart.manifest.str()},
                {"manifestSize", chart.manifest_size},
                {"package", chart.package.str()},
                {"signature", chart.signature.str()}};
  if (format_version >= 2) j["chart"]["sigstoreBundle"] = chart.referrer.str();
  // Absent rather than empty: bundles without tools keep the bytes they always had.
  if (!tools.empty()) {
    ordered_json ts = ordered_json::array();
    for (const auto& t : tools)
      ts.push_back({{"name", t.name},
                    {"version", t.version},
                    {"platform", t.platform},
                    {"reference", t.reference},
                    {"manifest", t.manifest.str()},
                    {"manifestSize", t.manifest_size},
                    {"binary", t.binary.str()},
                    {"size", t.size}});
    j["tools"] = ts;
  }
  if (base)
    j["base"] = {{"name", base->name}, {"version", base->version}, {"root", base->root.str()}};
  else
    j["base"] = nullptr;
  ordered_json omitted = ordered_json::array();
  for (const auto& d : omitted_blobs) omitted.push_back(d.str());
  j["omittedBlobs"] = omitted;
  j["lock"] = lock;
  return j.dump(2) + "\n";
}

Root Root::parse(const std::string& bytes) {
  ordered_json j;
  try {
    j = ordered_json::parse(bytes);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::Input, fmt::format("sealift.json: not valid JSON: {}", e.what()));
  }
  if (!j.is_object()) bad("(top level)", "must be an object");
  Root r;
  r.format_version = static_cast<int>(integer(j, "formatVersion", ""));
  if (r.format_version < kOldestFormatVersion || r.format_version > kFormatVersion)
    throw Error(ErrorKind::Input,
                fmt::format("sealift.json: format version {} is not supported (this sealift reads {} to {})",
                            r.format_version, kOldestFormatVersion, kFormatVersion),
                "use a sealift release that matches the bundle");
  r.name = str(j, "name", "");
  r.version = str(j, "version", "");
  r.created = str(j, "created", "");
  r.tool = str(j, "tool", "");
  r.lock = str(j, "lock", "");
  const auto& idx = need(j, "index", "");
  r.index = digest(idx, "digest", "index");
  r.index_size = integer(idx, "size", "index");
  const auto& plats = need(j, "platforms", "");
  if (!plats.is_array()) bad("platforms", "must be an array");
  for (const auto& p : plats) {
    if (!p.is_string()) bad("platforms", "entries must be strings");
    r.platforms.push_back(p.get<std::string>());
  }
  const auto& imgs = need(j, "images", "");
  if (!imgs.is_array()) bad("images", "must be an array");
  for (size_t n = 0; n < imgs.size(); ++n) {
    std::string w = fmt::format("images[{}]", n);
    const auto& i = imgs[n];
    r.images.push_back({str(i, "source", w), digest(i, "digest", w), str(i, "mediaType", w),
                        digest(i, "upstreamDigest", w), digest(i, "signature", w), {}, {}, {}, {}});
    if (r.format_version >= 2) r.images.back().referrer = digest(i, "sigstoreBundle", w);
    auto digests = [&](const char* key, std::vector<oci::Digest>& out) {
      if (!i.contains(key)) return;
      const std::string where = w + "." + key;
      const auto& list = i.at(key);
      if (!list.is_array() || list.empty()) bad(where, "must be a non-empty array");
      for (const auto& d : list) {
        if (!d.is_string()) bad(where, "entries must be strings");
        try {
          out.push_back(oci::Digest::parse(d.get<std::string>()));
        } catch (const Error& e) {
          bad(where, e.what());
        }
      }
    };
    digests("upstreamSigstoreBundles", r.images.back().upstream_signatures);
    if (r.format_version >= 3) {
      digests("sboms", r.images.back().sboms);
      digests("upstreamAttestations", r.images.back().upstream_attestations);
    }
  }
  const auto& c = need(j, "chart", "");
  r.chart = {str(c, "name", "chart"),          str(c, "version", "chart"), str(c, "reference", "chart"),
             digest(c, "manifest", "chart"),   integer(c, "manifestSize", "chart"),
             digest(c, "package", "chart"),    digest(c, "signature", "chart"), {}};
  if (r.format_version >= 2) r.chart.referrer = digest(c, "sigstoreBundle", "chart");
  // Both become a file name and a tag on the installer host.
  if (!chart::valid_name(r.chart.name))
    bad("chart.name", fmt::format("{:?} is not a chart name (lowercase letters, digits and inner '-')", r.chart.name));
  if (!chart::valid_version(r.chart.version))
    bad("chart.version", fmt::format("{:?} is not a SemVer 2 version", r.chart.version));
  if (j.contains("tools")) {
    const auto& ts = j.at("tools");
    if (!ts.is_array()) bad("tools", "must be an array");
    for (size_t n = 0; n < ts.size(); ++n) {
      std::string w = fmt::format("tools[{}]", n);
      const auto& t = ts[n];
      RootTool tool{str(t, "name", w),         str(t, "version", w),  str(t, "platform", w),
                    str(t, "reference", w),    digest(t, "manifest", w), integer(t, "manifestSize", w),
                    digest(t, "binary", w),    integer(t, "size", w)};
      // The name becomes a file name on the installer host.
      if (tool.name.empty() || tool.name.size() > 64 ||
          tool.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos ||
          tool.name.front() == '-')
        bad(w + ".name", "must be lowercase letters, digits and '-'");
      if (tool.platform.empty()) bad(w + ".platform", "must not be empty");
      r.tools.push_back(std::move(tool));
    }
  }
  const auto& b = need(j, "base", "");
  if (!b.is_null()) r.base = RootBase{str(b, "name", "base"), str(b, "version", "base"), digest(b, "root", "base")};
  const auto& om = need(j, "omittedBlobs", "");
  if (!om.is_array()) bad("omittedBlobs", "must be an array");
  for (const auto& d : om) {
    if (!d.is_string()) bad("omittedBlobs", "entries must be strings");
    try {
      r.omitted_blobs.push_back(oci::Digest::parse(d.get<std::string>()));
    } catch (const Error& e) {
      bad("omittedBlobs", e.what());
    }
  }
  return r;
}

std::optional<int64_t> source_date_epoch() {
  const char* sde = std::getenv("SOURCE_DATE_EPOCH");
  if (!sde || !*sde) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(sde, &end, 10);
  if (*end != '\0' || v < 0 || errno == ERANGE)
    throw Error(ErrorKind::Usage, fmt::format("SOURCE_DATE_EPOCH=\"{}\" is not a number of seconds", sde));
  return v;
}

std::string creation_time() {
  std::time_t t = static_cast<std::time_t>(source_date_epoch().value_or(std::time(nullptr)));
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace sealift::bundle
