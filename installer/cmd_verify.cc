#include "cmd_verify.h"

#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/flags.h"
#include "sign/blob.h"
#include "util/fs.h"

namespace sealift::installer {

void add_trust_flags(CLI::App* cmd, TrustFlags& f) {
  cmd->add_option("--key", f.keys, "The vendor's public key (cosign.pub); repeatable, any one may have signed");
  cmd->add_option("--key-dir", f.key_dirs,
                  "A directory of the vendor's trusted public keys (every *.pub in it; not writable by other users), "
                  "for key rotation; repeatable, with --key");
  cmd->add_option("--upstream-key", f.upstream_keys,
                  "An image publisher's public key: every image carrying upstream signatures must have one that "
                  "verifies with it (repeatable)");
  cmd->add_flag("--insecure-skip-signature", f.insecure_skip_signature,
                "Accept an unsigned or wrongly signed bundle (digests are still checked). Dangerous");
}

sign::TrustedKeys trusted_keys(const TrustFlags& f) {
  std::vector<std::filesystem::path> paths(f.keys.begin(), f.keys.end());
  sign::TrustedKeys keys = sign::TrustedKeys::from_files(paths);
  for (const auto& dir : f.key_dirs) keys.add_dir(dir);
  return keys;
}

install::VerifiedBundle verify_for_command(const bundle::ArchiveReader& reader, const sign::TrustedKeys& keys,
                                           const TrustFlags& f, int jobs, util::Progress& progress,
                                           install::VerifyScope scope) {
  install::VerifyOptions o;
  o.insecure_skip_signature = f.insecure_skip_signature;
  o.jobs = jobs;
  o.scope = scope;
  std::vector<std::filesystem::path> upstream(f.upstream_keys.begin(), f.upstream_keys.end());
  o.upstream_keys = sign::TrustedKeys::from_files(upstream);
  install::VerifiedBundle verified = install::verify_bundle(reader, keys, o, progress);
  for (const auto& w : verified.warnings) fmt::print(stderr, "sealift-install: WARNING: {}\n", w);
  return verified;
}

namespace {

struct VerifyFlags {
  std::string bundle;
  TrustFlags trust;
  int jobs = 4;
  cli::OutputFlags out;
};

void run_verify(const VerifyFlags& f) {
  sign::TrustedKeys keys = trusted_keys(f.trust);
  bundle::ArchiveReader reader(f.bundle);
  util::Progress progress(f.out.mode());
  install::VerifiedBundle v = verify_for_command(reader, keys, f.trust, f.jobs, progress);
  const bundle::Root& root = v.root;
  if (f.out.json) {
    nlohmann::ordered_json j;
    j["verified"] = true;
    j["name"] = root.name;
    j["version"] = root.version;
    j["signatureVerified"] = v.signature_verified;
    j["signer"] = v.signer;
    j["entries"] = v.entries_checked;
    j["bytes"] = v.bytes_checked;
    j["images"] = nlohmann::ordered_json::array();
    for (const auto& image : root.images) j["images"].push_back({{"source", image.source}, {"digest", image.digest.str()}});
    j["chart"] = {{"name", root.chart.name}, {"version", root.chart.version}, {"digest", root.chart.manifest.str()}};
    j["tools"] = nlohmann::ordered_json::array();
    for (const auto& t : root.tools)
      j["tools"].push_back({{"name", t.name}, {"version", t.version}, {"platform", t.platform}, {"binary", t.binary.str()}});
    j["base"] = root.base ? nlohmann::ordered_json{{"name", root.base->name}, {"version", root.base->version}}
                          : nlohmann::ordered_json();
    j["omittedBlobs"] = v.omitted.size();
    j["upstreamSignatures"] = v.upstream_signatures;
    j["upstreamSignaturesVerified"] = v.upstream_signatures_verified;
    j["sboms"] = v.sboms;
    j["sbomsVerified"] = v.sboms_verified;
    j["upstreamAttestations"] = v.upstream_attestations;
    j["upstreamAttestationsVerified"] = v.upstream_attestations_verified;
    j["warnings"] = v.warnings;
    fmt::print("{}\n", j.dump());
    return;
  }
  if (f.out.quiet) return;
  fmt::print("bundle {} {} ({}, made by {} on {})\n", root.name, root.version, reader.file().name().string(), root.tool,
             root.created);
  if (v.signature_verified)
    fmt::print("  signature: good, by key {}\n", v.signer);
  else
    fmt::print("  signature: NOT VERIFIED (--insecure-skip-signature)\n");
  fmt::print("  content:   {} entries, {} checked against their digests\n", v.entries_checked,
             util::human_bytes(v.bytes_checked));
  fmt::print("  images:    {}, each with its cosign signature{}\n", root.images.size(),
             root.format_version >= 2 ? "s (.sig and Sigstore bundle, both checked)" : " (.sig)");
  if (v.sboms)
    fmt::print("  SBOMs:     {} (SPDX, one per platform image), {} verified with the vendor's key\n", v.sboms,
               v.sboms_verified);
  if (v.upstream_attestations)
    fmt::print("  upstream:  {} attestation(s)/SBOM(s) of the images' publishers carried; {}\n", v.upstream_attestations,
               f.trust.upstream_keys.empty() ? std::string("signed ones not checked against a publisher's key (--upstream-key)")
                                             : fmt::format("{} verified with --upstream-key", v.upstream_attestations_verified));
  if (v.upstream_signatures)
    fmt::print("  upstream:  {} signature(s) of the images' publishers carried; {}\n", v.upstream_signatures,
               f.trust.upstream_keys.empty() ? std::string("not checked against a publisher's key (--upstream-key)")
                                             : fmt::format("{} verified with --upstream-key", v.upstream_signatures_verified));
  fmt::print("  chart:     {} {}\n", root.chart.name, root.chart.version);
  for (const auto& t : root.tools)
    fmt::print("  tool:      {} {} for {} (for the installer host; not pushed)\n", t.name, t.version, t.platform);
  if (root.base)
    fmt::print("  delta:     against {} {}; {} blobs left out (the target must already hold them)\n", root.base->name,
               root.base->version, v.omitted.size());
}

struct VerifyBlobFlags {
  std::string key;
  std::string signature;
  std::string file;
  cli::OutputFlags out;
};

void run_verify_blob(const VerifyBlobFlags& f) {
  const sign::TrustedKeys keys = sign::TrustedKeys::from_files({f.key});
  util::FileSource content(f.file);
  const sign::PublicKey& signer = sign::verify_blob(keys, content, util::read_file(f.signature), f.file);
  if (f.out.json) {
    fmt::print("{}\n", nlohmann::ordered_json{{"file", f.file}, {"verified", true}, {"key", signer.fingerprint()}}.dump());
  } else if (!f.out.quiet) {
    fmt::print("Verified OK: {} signed by {}\n", f.file, signer.fingerprint());
  }
}

}  // namespace

void add_verify_command(CLI::App& app) {
  auto f = std::make_shared<VerifyFlags>();
  CLI::App* cmd = app.add_subcommand("verify", "Check the bundle's signature and every digest in it, without unpacking it");
  cmd->add_option("bundle", f->bundle, "The bundle file, or its first part (.000)")->required();
  add_trust_flags(cmd, f->trust);
  cmd->add_option("-j,--jobs", f->jobs, "Entries hashed in parallel")->capture_default_str()->check(CLI::Range(1, 64));
  cli::add_output_flags(cmd, f->out);
  cmd->callback([f] { run_verify(*f); });

  auto b = std::make_shared<VerifyBlobFlags>();
  CLI::App* blob = app.add_subcommand(
      "verify-blob", "Check a file's detached signature, as `cosign verify-blob` does (e.g. a transfer kit's SHA256SUMS)");
  blob->add_option("FILE", b->file, "The signed file")->required()->check(CLI::ExistingFile);
  blob->add_option("--key", b->key, "The signer's cosign.pub")->required();
  blob->add_option("--signature", b->signature, "The signature file (base64, as cosign sign-blob writes it)")
      ->required()
      ->check(CLI::ExistingFile);
  cli::add_output_flags(blob, b->out);
  blob->callback([b] { run_verify_blob(*b); });
}

}  // namespace sealift::installer
