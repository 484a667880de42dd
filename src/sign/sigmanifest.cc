#include "sign/sigmanifest.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "sign/gojson.h"
#include "util/encoding.h"
#include "util/error.h"

namespace sealift::sign {

namespace {

constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
// A simple-signing payload is a few hundred bytes; anything near this is not one.
constexpr int64_t kMaxPayloadSize = 1 << 20;

[[noreturn]] void malformed(std::string_view why) {
  throw Error(ErrorKind::Integrity, fmt::format("malformed cosign signature manifest: {}", why));
}

std::string annotations_json(const std::map<std::string, std::string>& annotations) {
  std::string out = "{";
  for (const auto& [k, v] : annotations) {
    if (out.size() > 1) out += ",";
    out += go_json_quote(k) + ":" + go_json_quote(v);
  }
  return out + "}";
}

// go-containerregistry's Descriptor field order: mediaType, size, digest, annotations.
std::string descriptor_json(std::string_view media_type, int64_t size, const oci::Digest& digest,
                            const std::map<std::string, std::string>& annotations) {
  std::string out = fmt::format(R"({{"mediaType":{},"size":{},"digest":{})", go_json_quote(media_type), size,
                                go_json_quote(digest.str()));
  if (!annotations.empty()) out += R"(,"annotations":)" + annotations_json(annotations);
  return out + "}";
}

std::map<std::string, std::string> string_map(const nlohmann::json& j, std::string_view where) {
  if (!j.is_object()) malformed(fmt::format("{} annotations are not an object", where));
  std::map<std::string, std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it->is_string()) malformed(fmt::format("{} annotation \"{}\" is not a string", where, it.key()));
    out.emplace(it.key(), it->get<std::string>());
  }
  return out;
}

SignatureLayer parse_descriptor(const nlohmann::json& j, std::string_view where) {
  if (!j.is_object()) malformed(fmt::format("{} is not an object", where));
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "mediaType" && it.key() != "size" && it.key() != "digest" && it.key() != "annotations")
      malformed(fmt::format("{} has an unexpected field \"{}\"", where, it.key()));
  if (!j.contains("mediaType") || !j["mediaType"].is_string()) malformed(fmt::format("{} has no mediaType", where));
  if (!j.contains("size") || !j["size"].is_number_unsigned()) malformed(fmt::format("{} has no valid size", where));
  if (!j.contains("digest") || !j["digest"].is_string() || !oci::Digest::valid(j["digest"].get<std::string>()))
    malformed(fmt::format("{} has no valid sha256 digest", where));
  SignatureLayer d;
  d.media_type = j["mediaType"].get<std::string>();
  d.size = j["size"].get<int64_t>();
  d.digest = oci::Digest::parse(j["digest"].get<std::string>());
  if (j.contains("annotations")) d.annotations = string_map(j["annotations"], where);
  return d;
}

bool is_subset(const std::map<std::string, std::string>& small, const std::map<std::string, std::string>& big) {
  for (const auto& [k, v] : small) {
    auto it = big.find(k);
    if (it == big.end() || it->second != v) return false;
  }
  return true;
}

std::string decode_signature(const SignatureLayer& layer) {
  std::string b64 = layer.signature();
  if (b64.empty()) return {};
  try {
    return util::base64_decode(b64);
  } catch (const Error&) {
    return {};
  }
}

}  // namespace

std::string signature_tag(const oci::Digest& image) { return image.tag_form() + ".sig"; }

std::string SignatureLayer::signature() const {
  auto it = annotations.find(std::string(kSignatureAnnotation));
  return it == annotations.end() ? std::string() : it->second;
}

ImageSignature sign_image(const Signer& key, std::string_view docker_reference, const oci::Digest& image,
                          const std::map<std::string, std::string>& annotations) {
  SimpleSigningPayload p{std::string(docker_reference), image, annotations};
  ImageSignature sig;
  sig.payload = p.bytes();
  sig.layer.digest = oci::Digest::of(sig.payload);
  sig.layer.size = static_cast<int64_t>(sig.payload.size());
  sig.layer.annotations.emplace(kSignatureAnnotation, util::base64_encode(sign(key, sig.payload)));
  return sig;
}

SignatureManifest SignatureManifest::parse(std::string_view manifest_bytes) {
  nlohmann::json doc = nlohmann::json::parse(manifest_bytes, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) malformed("not a JSON object");
  for (auto it = doc.begin(); it != doc.end(); ++it)
    if (it.key() != "schemaVersion" && it.key() != "mediaType" && it.key() != "config" && it.key() != "layers" &&
        it.key() != "annotations")
      malformed(fmt::format("unexpected field \"{}\"", it.key()));
  if (!doc.contains("schemaVersion") || doc["schemaVersion"] != 2) malformed("schemaVersion is not 2");
  SignatureManifest m;
  if (doc.contains("mediaType")) {
    if (doc["mediaType"] != kOciManifest && doc["mediaType"] != kDockerManifest)
      malformed(fmt::format("media type {} is not an image manifest", doc["mediaType"].dump()));
    m.media_type_ = doc["mediaType"].get<std::string>();
  }
  if (!doc.contains("config")) malformed("no config");
  SignatureLayer config = parse_descriptor(doc["config"], "config");
  if (config.media_type != kOciConfig && config.media_type != kDockerConfig)
    malformed(fmt::format("config media type {} is not an image config", config.media_type));
  m.config_media_type_ = config.media_type;
  if (doc.contains("annotations")) m.annotations_ = string_map(doc["annotations"], "manifest");
  if (!doc.contains("layers") || !doc["layers"].is_array()) malformed("no layers array");
  if (doc["layers"].size() > kMaxSignatureLayers)
    malformed(fmt::format("{} layers, more than cosign's limit of {}", doc["layers"].size(), kMaxSignatureLayers));
  for (size_t i = 0; i < doc["layers"].size(); ++i)
    m.layers_.push_back(parse_descriptor(doc["layers"][i], fmt::format("layers[{}]", i)));
  return m;
}

bool SignatureManifest::add(const ImageSignature& sig, const PublicKey& signer) {
  std::map<std::string, std::string> wanted = sig.layer.annotations;
  wanted.erase(std::string(kSignatureAnnotation));
  for (const auto& existing : layers_) {
    if (existing.digest != sig.layer.digest || existing.media_type != sig.layer.media_type) continue;
    if (!is_subset(wanted, existing.annotations)) continue;
    std::string raw = decode_signature(existing);
    if (!raw.empty() && verify(signer, sig.payload, raw)) return false;
  }
  if (layers_.size() >= kMaxSignatureLayers)
    throw Error(ErrorKind::Input,
                fmt::format("the signature manifest already holds {} signatures, cosign's limit", kMaxSignatureLayers));
  layers_.push_back(sig.layer);
  return true;
}

std::string SignatureManifest::config() const {
  std::string history, diff_ids;
  for (const auto& l : layers_) {
    if (!history.empty()) history += ",", diff_ids += ",";
    history += R"({"created":"0001-01-01T00:00:00Z"})";
    diff_ids += go_json_quote(l.digest.str());
  }
  return fmt::format(
      R"({{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{}],"os":"","rootfs":{{"type":"layers","diff_ids":[{}]}},"config":{{}}}})",
      history, diff_ids);
}

std::string SignatureManifest::manifest() const {
  std::string cfg = config();
  std::string layers;
  for (const auto& l : layers_) {
    if (!layers.empty()) layers += ",";
    layers += descriptor_json(l.media_type, l.size, l.digest, l.annotations);
  }
  std::string out = fmt::format(R"({{"schemaVersion":2,"mediaType":{},"config":{},"layers":[{}])",
                                go_json_quote(media_type_),
                                descriptor_json(config_media_type_, static_cast<int64_t>(cfg.size()),
                                                oci::Digest::of(cfg), {}),
                                layers);
  if (!annotations_.empty()) out += R"(,"annotations":)" + annotations_json(annotations_);
  return out + "}";
}

std::vector<VerifiedSignature> verify_image_signatures(const SignatureManifest& signatures, const oci::Digest& image,
                                                       const TrustedKeys& trusted, const PayloadFetcher& fetch,
                                                       std::string_view image_name) {
  if (trusted.empty())
    throw Error(ErrorKind::Usage, "no trusted public key to verify signatures with",
                "pass the vendor's cosign.pub with --key");
  std::vector<VerifiedSignature> valid;
  std::vector<std::string> rejected;
  const auto& layers = signatures.layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    const SignatureLayer& layer = layers[i];
    auto reject = [&](std::string why) { rejected.push_back(fmt::format("layer {}: {}", i, why)); };
    if (layer.media_type != kSimpleSigningMediaType) {
      reject(fmt::format("media type {} is not a simple-signing payload", layer.media_type));
      continue;
    }
    std::string raw = decode_signature(layer);
    if (raw.empty()) {
      reject("no valid base64 signature annotation");
      continue;
    }
    if (layer.size < 0 || layer.size > kMaxPayloadSize) {
      reject(fmt::format("payload size {} is out of range", layer.size));
      continue;
    }
    std::string payload = fetch(layer);
    if (static_cast<int64_t>(payload.size()) != layer.size || oci::Digest::of(payload) != layer.digest) {
      reject(fmt::format("payload blob does not match {}", layer.digest.str()));
      continue;
    }
    const PublicKey* key = trusted.signer_of(payload, raw);
    if (!key) {
      reject("signature does not verify with any trusted key");
      continue;
    }
    SimpleSigningPayload parsed;
    try {
      parsed = SimpleSigningPayload::parse(payload);
    } catch (const Error& e) {
      reject(e.what());
      continue;
    }
    if (parsed.manifest_digest != image) {
      reject(fmt::format("the signed payload is for {}, not {}", parsed.manifest_digest.str(), image.str()));
      continue;
    }
    valid.push_back({std::move(parsed), *key});
  }
  if (valid.empty()) {
    std::string why = rejected.empty() ? "the signature manifest has no layers" : fmt::format("{}", fmt::join(rejected, "; "));
    throw Error(ErrorKind::Integrity, fmt::format("no valid signature for {} by a trusted key ({})", image_name, why),
                "the image may have been altered, or was signed with a key you do not trust");
  }
  return valid;
}

}  // namespace sealift::sign
