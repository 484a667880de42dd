#include "bundle/toc.h"

#include <algorithm>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace sealift::bundle {

namespace {

using nlohmann::json;

[[noreturn]] void bad_toc(const std::string& problem) {
  throw Error(ErrorKind::Input, "the bundle's table of contents is invalid: " + problem,
              "the bundle is damaged or was not written by sealift");
}

uint64_t unsigned_field(const json& entry, const char* key, size_t index) {
  auto it = entry.find(key);
  if (it == entry.end() || !it->is_number_unsigned()) {
    bad_toc(fmt::format("entry {} has no unsigned integer '{}'", index, key));
  }
  return it->get<uint64_t>();
}

}  // namespace

std::string printable_name(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 200)) {
    if (c >= ' ' && c <= '~') {
      out.push_back(c);
    } else {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    }
  }
  if (name.size() > 200) out += "...";
  return out;
}

void check_entry_name(std::string_view name) {
  auto refuse = [&](std::string_view why) {
    throw Error(ErrorKind::Input, fmt::format("unsafe entry name '{}': {}", printable_name(name), why),
                "bundle entries are relative paths inside the OCI layout");
  };
  if (name.empty()) refuse("it is empty");
  if (name.size() > kMaxNameSize) refuse(fmt::format("it is longer than {} bytes", kMaxNameSize));
  for (char c : name) {
    if (c <= ' ' || c > '~' || c == '\\') refuse("it holds a character outside printable ASCII, a space or a backslash");
  }
  if (name.front() == '/') refuse("it is an absolute path");
  size_t start = 0;
  for (;;) {
    size_t slash = name.find('/', start);
    std::string_view component = name.substr(start, slash == std::string_view::npos ? name.npos : slash - start);
    if (component.empty()) refuse("it has an empty path component");
    if (component == "..") refuse("it climbs out of the archive with '..'");
    if (component == ".") refuse("it has a '.' component");
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
}

std::string encode_toc(const Toc& toc) {
  json entries = json::array();
  for (const TocEntry& e : toc.entries) {
    entries.push_back({{"name", e.name}, {"header", e.header_offset}, {"offset", e.data_offset}, {"size", e.size}});
  }
  json doc = {{"mediaType", kTocMediaType}, {"formatVersion", kTocFormatVersion}, {"entries", std::move(entries)}};
  return doc.dump();
}

uint64_t max_toc_size(uint64_t tar_size) {
  return std::min<uint64_t>(kMaxTocSize, kTocOverhead + tar_size / kTarBlock * kMaxTocEntrySize);
}

Toc parse_toc(std::string_view text, uint64_t tar_size) {
  if (text.size() > max_toc_size(tar_size))
    bad_toc(fmt::format("it is {} bytes, more than the {} bytes a tar stream of {} bytes can need", text.size(),
                        max_toc_size(tar_size), tar_size));
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) bad_toc("it is not a JSON object");
  auto media_type = doc.find("mediaType");
  if (media_type == doc.end() || *media_type != kTocMediaType) {
    bad_toc(fmt::format("its mediaType is not {}", kTocMediaType));
  }
  auto version = doc.find("formatVersion");
  if (version == doc.end() || !version->is_number_integer()) bad_toc("it has no formatVersion");
  if (*version != kTocFormatVersion) {
    throw Error(ErrorKind::Input,
                fmt::format("bundle format version {} is not supported (this sealift reads version {})",
                            version->dump(), kTocFormatVersion),
                "use a sealift release that supports this bundle format");
  }
  auto entries = doc.find("entries");
  if (entries == doc.end() || !entries->is_array()) bad_toc("it has no entries array");

  Toc toc;
  toc.entries.reserve(entries->size());
  std::unordered_set<std::string> names;
  uint64_t expected_header = 0;
  for (size_t i = 0; i < entries->size(); ++i) {
    const json& j = (*entries)[i];
    if (!j.is_object()) bad_toc(fmt::format("entry {} is not an object", i));
    auto name = j.find("name");
    if (name == j.end() || !name->is_string()) bad_toc(fmt::format("entry {} has no name", i));
    TocEntry e;
    e.name = name->get<std::string>();
    e.header_offset = unsigned_field(j, "header", i);
    e.data_offset = unsigned_field(j, "offset", i);
    e.size = unsigned_field(j, "size", i);
    check_entry_name(e.name);
    if (!names.insert(e.name).second) bad_toc(fmt::format("'{}' is listed twice", e.name));
    if (e.header_offset != expected_header) {
      bad_toc(fmt::format("'{}' starts at offset {} where {} was expected: entries overlap or leave a gap",
                          e.name, e.header_offset, expected_header));
    }
    uint64_t header_size = e.data_offset - e.header_offset;
    if (e.data_offset <= e.header_offset || header_size % kTarBlock != 0 || header_size > kMaxHeaderSize) {
      bad_toc(fmt::format("'{}' has a header of {} bytes (from {} to {})", e.name,
                          static_cast<int64_t>(header_size), e.header_offset, e.data_offset));
    }
    if (e.size > tar_size || e.data_offset > tar_size - e.size) {
      bad_toc(fmt::format("'{}' ({} bytes at offset {}) ends beyond the tar stream ({} bytes)", e.name, e.size,
                          e.data_offset, tar_size));
    }
    expected_header = e.end();
    toc.entries.push_back(std::move(e));
  }
  if (expected_header > tar_size || tar_size - expected_header != kTarEndSize) {
    bad_toc(fmt::format("the tar stream is {} bytes but its entries end at {}: expected exactly the {}-byte "
                        "end-of-archive marker after them",
                        tar_size, expected_header, kTarEndSize));
  }
  return toc;
}

}  // namespace sealift::bundle
