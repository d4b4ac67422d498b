#include "proto/jsonl.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver.h"
#include "google/protobuf/util/type_resolver_util.h"

namespace kg {

absl::Status ParseRecordLine(absl::string_view line, v1::ImportRecord* record) {
  record->Clear();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(line.data(), line.size()), record, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad JSON record: ", status.message().as_string()));
  }
  if (record->record_case() == v1::ImportRecord::RECORD_NOT_SET) {
    return absl::InvalidArgumentError("record: neither \"entity\" nor \"edge\" is set");
  }
  // -0.0 is stored as 0: protobuf prints it as "-0", which it reads back as 0, so a record
  // written out and read again would differ (found by fuzz_jsonl).
  if (record->has_entity()) {
    for (auto& [name, value] : *record->mutable_entity()->mutable_metrics()) {
      if (value == 0.0) value = 0.0;
    }
  }
  if (record->has_edge() && record->edge().weight() == 0.0) record->mutable_edge()->set_weight(0.0);
  return absl::OkStatus();
}

std::string DeterministicBytes(const google::protobuf::Message& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return bytes;
}

std::string ToJsonLine(const google::protobuf::Message& message, bool print_defaults) {
  // Serializing deterministically first sorts map entries by key: protobuf's own
  // MessageToJsonString prints maps in hash order, which differs from run to run.
  static constexpr char kUrlPrefix[] = "type.googleapis.com";
  static google::protobuf::util::TypeResolver* const generated_resolver =
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          kUrlPrefix, google::protobuf::DescriptorPool::generated_pool());
  const std::string binary = DeterministicBytes(message);
  const google::protobuf::DescriptorPool* pool = message.GetDescriptor()->file()->pool();
  std::unique_ptr<google::protobuf::util::TypeResolver> own_resolver;
  google::protobuf::util::TypeResolver* resolver = generated_resolver;
  if (pool != google::protobuf::DescriptorPool::generated_pool()) {
    own_resolver.reset(google::protobuf::util::NewTypeResolverForDescriptorPool(kUrlPrefix, pool));
    resolver = own_resolver.get();
  }
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = print_defaults;
  std::string out;
  (void)google::protobuf::util::BinaryToJsonString(
      resolver, absl::StrCat(kUrlPrefix, "/", message.GetDescriptor()->full_name()), binary, &out,
      options);
  return out;
}

std::string FormatRecordLine(const v1::ImportRecord& record) { return ToJsonLine(record); }

absl::Status InputFile::Open(const std::string& path) {
  if (path == "-") {
    in_ = &std::cin;
    return absl::OkStatus();
  }
  file_ = std::make_unique<std::ifstream>(path, std::ios::binary | std::ios::ate);
  if (!file_->is_open()) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  size_ = static_cast<uint64_t>(file_->tellg());
  file_->seekg(0);
  in_ = file_.get();
  return absl::OkStatus();
}

absl::Status JsonlReader::Open(const std::string& path) {
  path_ = path;
  return input_.Open(path);
}

bool JsonlReader::Next(v1::ImportRecord* record, absl::Status* status) {
  *status = absl::OkStatus();
  std::istream* in = input_.stream();
  while (in != nullptr && std::getline(*in, line_)) {
    ++line_number_;
    bytes_read_ += line_.size() + 1;
    absl::string_view view(line_);
    while (!view.empty() && (view.back() == '\r' || view.back() == ' ')) view.remove_suffix(1);
    while (!view.empty() && view.front() == ' ') view.remove_prefix(1);
    if (view.empty() || view.front() == '#') continue;
    absl::Status parsed = ParseRecordLine(view, record);
    if (!parsed.ok()) {
      *status = absl::InvalidArgumentError(
          absl::StrCat(path_, ":", line_number_, ": ", parsed.message()));
    }
    return true;
  }
  return false;
}

}  // namespace kg
