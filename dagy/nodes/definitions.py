"""The 27 built-in node types, as data: what the builder's node panel shows and what runs each one.

Connector ids are shared by the canvas, the compiler and the implementations: data nodes take
``data_in`` and give ``data_out``; ingestion sources take ``trigger_in`` instead of ``data_in``;
``condition`` gives ``true_out``/``false_out``; ``map`` gives ``item_out``. A node with ``impl=None``
cannot run here and ``not_executable`` says why (refused when a pipeline is checked).
"""

from __future__ import annotations

from dagy.nodes.model import ConfigField, Connector, NodeDef

_RUN = "dagy.nodes.run"
NO_LLM = "no LLM provider is configured"
NO_VECTORDB = "no vector database is configured"
NO_CONTAINERS = "no container runtime is configured"
# What dagy.nodes.run.control.condition compares with; eq/ne/gt/gte/lt/lte are its aliases.
CONDITION_OPERATORS = (
    "==",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "in",
    "not_in",
    "contains",
    "exists",
    "is_empty",
    "not_empty",
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
)

_DATA = ("json", "dataframe", "any")
_TABULAR_OUT = ("json", "dataframe")


def _trigger_in() -> Connector:
    return Connector("trigger_in", "Trigger", "inbound", ("trigger", "any"), "zero_or_one")


def _data_in(
    types: tuple[str, ...] = _DATA, *, cardinality: str = "one", required: bool = True
) -> Connector:
    return Connector("data_in", "Data", "inbound", types, cardinality, required)


def _data_out(types: tuple[str, ...] = _TABULAR_OUT) -> Connector:
    return Connector("data_out", "Data", "outbound", types, "zero_or_many")


def _field(
    name: str,
    label: str,
    type_: str = "string",
    *,
    required: bool = False,
    default: object = None,
    description: str = "",
    options: tuple[str, ...] = (),
) -> ConfigField:
    return ConfigField(name, label, type_, required, default, description, options)


_FORMAT_IN = _field(
    "format",
    "Format",
    "select",
    default="auto",
    options=("auto", "json", "ndjson", "csv", "parquet"),
    description="How the file is encoded; auto: from the extension",
)
_FORMAT = _field(
    "format",
    "Format",
    "select",
    options=("json", "ndjson", "csv", "parquet"),
    description="How the file is written; when empty, from the extension, else json",
)
_OUTPUT = _field(
    "output",
    "Output",
    "select",
    default="json",
    options=("json", "dataframe"),
    description="json: a list of records; dataframe: Parquet read with DuckDB (big data)",
)
_HEADERS = _field("headers", "Headers", "object", description="Extra HTTP headers")


def _ingestion() -> list[NodeDef]:
    cat = "ingestion"
    return [
        NodeDef(
            "s3_ingest",
            "S3 Ingest",
            "Read files from Amazon S3",
            cat,
            "CloudDownload",
            "blue",
            (_trigger_in(), _data_out(("dataframe", "json", "string"))),
            (
                _field(
                    "uri",
                    "URI",
                    description="s3://bucket/key, file:///path or a local path (or bucket + key)",
                ),
                _field("bucket", "Bucket", description="With key: instead of uri"),
                _field("key", "Key", description="The object key in bucket"),
                _FORMAT_IN,
                _OUTPUT,
                _field("endpoint_url", "Endpoint URL", description="S3-compatible endpoint"),
                _field("region", "Region"),
            ),
            ("s3", "aws", "read", "files", "ingest", "storage"),
            impl=f"{_RUN}.io:s3_ingest",
        ),
        NodeDef(
            "s3_write",
            "S3 Write",
            "Write records to Amazon S3 (or a local file)",
            cat,
            "CloudUpload",
            "blue",
            (
                _data_in(),
                Connector("data_out", "Written", "outbound", ("json",), "zero_or_many"),
            ),
            (
                _field(
                    "uri",
                    "URI",
                    description="s3://bucket/key, file:///path or a local path; "
                    "empty: the local artifact store (nodes/<run_id>/<task_run_id>/output.<format>)",
                ),
                _FORMAT,
                _field("endpoint_url", "Endpoint URL", description="S3-compatible endpoint"),
                _field("region", "Region"),
            ),
            ("s3", "aws", "write", "files", "storage", "export"),
            impl=f"{_RUN}.io:s3_write",
        ),
        NodeDef(
            "http_fetch",
            "HTTP Fetch",
            "Fetch JSON or text from an HTTP endpoint",
            cat,
            "Globe",
            "blue",
            (_trigger_in(), _data_out(("json", "string", "dataframe"))),
            (
                _field("url", "URL", required=True),
                _field(
                    "method",
                    "Method",
                    "select",
                    default="GET",
                    options=("GET", "POST", "PUT", "PATCH", "DELETE"),
                ),
                _HEADERS,
                _field("body", "Body", "json", description="JSON body for POST/PUT/PATCH"),
                _field("timeout_seconds", "Timeout (s)", "number", default=30),
                _field(
                    "max_bytes",
                    "Max bytes",
                    "integer",
                    default=50_000_000,
                    description="The response is refused beyond this size",
                ),
                _OUTPUT,
            ),
            ("http", "api", "rest", "fetch", "request", "web", "ingest"),
            impl=f"{_RUN}.io:http_fetch",
        ),
        NodeDef(
            "file_ingest",
            "File Ingest",
            "Read a local file (JSON, NDJSON, CSV or Parquet)",
            cat,
            "FileInput",
            "blue",
            (_trigger_in(), _data_out(("dataframe", "json", "string"))),
            (
                _field("uri", "Path", required=True, description="A local path or file:// URI"),
                _FORMAT_IN,
                _OUTPUT,
            ),
            ("file", "local", "read", "csv", "parquet", "ingest"),
            impl=f"{_RUN}.io:file_ingest",
        ),
        NodeDef(
            "file_write",
            "File Write",
            "Write records to a local file",
            cat,
            "FileOutput",
            "blue",
            (
                _data_in(),
                Connector("data_out", "Written", "outbound", ("json",), "zero_or_many"),
            ),
            (
                _field("uri", "Path", required=True, description="A local path or file:// URI"),
                _FORMAT,
            ),
            ("file", "local", "write", "csv", "parquet", "export"),
            impl=f"{_RUN}.io:file_write",
        ),
    ]


def _transform() -> list[NodeDef]:
    cat = "transform"
    return [
        NodeDef(
            "schema_validator",
            "Schema Validator",
            "Validate records against a JSON Schema",
            cat,
            "ShieldCheck",
            "green",
            (_data_in(), _data_out()),
            (
                _field(
                    "schema",
                    "JSON Schema",
                    "object",
                    required=True,
                    description="The JSON Schema each record must satisfy",
                ),
                _field(
                    "on_invalid",
                    "On invalid record",
                    "select",
                    default="fail",
                    options=("fail", "drop"),
                ),
            ),
            ("validate", "schema", "json schema", "quality", "check"),
            impl=f"{_RUN}.transform:schema_validator",
        ),
        NodeDef(
            "data_normalizer",
            "Data Normalizer",
            "Normalize keys and values: lowercase keys, trim strings, rename, drop nulls",
            cat,
            "Wand",
            "green",
            (_data_in(), _data_out()),
            (
                _field("lowercase_keys", "Lowercase keys", "boolean", default=True),
                _field("trim_strings", "Trim strings", "boolean", default=True),
                _field("rename", "Rename", "object", description="old key -> new key"),
                _field("drop_nulls", "Drop null fields", "boolean", default=False),
                _field("empty_as_null", "Empty strings as null", "boolean", default=False),
                _field(
                    "lowercase_values",
                    "Lowercase values of",
                    "array",
                    description="Fields whose string values are lowercased",
                ),
            ),
            ("normalize", "clean", "cleanup", "rename", "trim"),
            impl=f"{_RUN}.transform:data_normalizer",
        ),
        NodeDef(
            "deduplicator",
            "Deduplicator",
            "Drop duplicate records by key",
            cat,
            "CopyMinus",
            "green",
            (_data_in(), _data_out()),
            (
                _field(
                    "keys",
                    "Keys",
                    "array",
                    description="Fields that identify a record; all fields when empty",
                ),
                _field(
                    "keep",
                    "Keep",
                    "select",
                    default="first",
                    options=("first", "last"),
                ),
            ),
            ("dedupe", "duplicates", "unique", "distinct"),
            impl=f"{_RUN}.transform:deduplicator",
        ),
        NodeDef(
            "sql_transform",
            "SQL Transform",
            "Transform data with a DuckDB SQL query over the input table `data`",
            cat,
            "Database",
            "green",
            (_data_in(), _data_out()),
            (
                _field(
                    "sql",
                    "SQL",
                    "code",
                    required=True,
                    description="A DuckDB SELECT over the view `data` (also named `input`)",
                ),
                _field(
                    "output",
                    "Output",
                    "select",
                    options=("json", "dataframe"),
                    description="The input's kind when empty",
                ),
            ),
            ("sql", "duckdb", "query", "filter", "aggregate", "join"),
            impl=f"{_RUN}.transform:sql_transform",
        ),
        NodeDef(
            "field_mapper",
            "Field Mapper",
            "Map input fields to output fields",
            cat,
            "ArrowLeftRight",
            "green",
            (_data_in(), _data_out()),
            (
                _field(
                    "mapping",
                    "Mapping",
                    "object",
                    required=True,
                    description="output field -> input field",
                ),
                _field(
                    "keep_unmapped",
                    "Keep unmapped fields",
                    "boolean",
                    default=False,
                    description="Also keep the input fields no mapping reads",
                ),
            ),
            ("map", "fields", "rename", "select", "project"),
            impl=f"{_RUN}.transform:field_mapper",
        ),
    ]


def _llm() -> list[NodeDef]:
    cat = "llm"
    model = _field("model", "Model", description="Provider model name")
    text_in = _data_in(("json", "string", "any"))
    defs = [
        (
            "llm_prompt",
            "LLM Prompt",
            "Send a prompt to a language model",
            "MessageSquare",
            (
                _field("prompt", "Prompt", "text", required=True),
                model,
                _field("temperature", "Temperature", "number", default=0.0),
                _field("max_tokens", "Max tokens", "integer", default=1024),
            ),
            ("llm", "ai", "prompt", "gpt", "completion", "chat"),
            ("string", "json"),
        ),
        (
            "llm_extract",
            "LLM Extract",
            "Extract structured fields from text with a language model",
            "ScanText",
            (
                _field("schema", "Output schema", "object", required=True),
                _field("instructions", "Instructions", "text"),
                model,
            ),
            ("llm", "ai", "extract", "structured", "parse"),
            ("json",),
        ),
        (
            "llm_classify",
            "LLM Classify",
            "Classify records into labels with a language model",
            "Tags",
            (
                _field("labels", "Labels", "array", required=True),
                _field("field", "Text field", description="The field to classify"),
                model,
            ),
            ("llm", "ai", "classify", "categorize", "label"),
            ("json",),
        ),
        (
            "llm_summarize",
            "LLM Summarize",
            "Summarize text with a language model",
            "FileText",
            (
                _field("max_words", "Max words", "integer", default=200),
                _field(
                    "style",
                    "Style",
                    "select",
                    default="paragraph",
                    options=("paragraph", "bullets"),
                ),
                model,
            ),
            ("llm", "ai", "summarize", "summary"),
            ("string",),
        ),
    ]
    return [
        NodeDef(
            t,
            label,
            desc,
            cat,
            icon,
            "purple",
            (text_in, _data_out(out)),
            schema,
            tags,
            not_executable=NO_LLM,
        )
        for t, label, desc, icon, schema, tags, out in defs
    ]


def _vectordb() -> list[NodeDef]:
    cat = "vectordb"
    collection = _field("collection", "Collection", required=True)
    return [
        NodeDef(
            "embed_documents",
            "Embed Documents",
            "Turn documents into embedding vectors",
            cat,
            "Binary",
            "orange",
            (
                _data_in(("documents", "json", "string", "any")),
                Connector("data_out", "Embeddings", "outbound", ("embeddings",), "zero_or_many"),
            ),
            (
                _field("model", "Embedding model"),
                _field("text_field", "Text field", default="text"),
            ),
            ("embeddings", "vector", "ai", "rag"),
            not_executable=NO_VECTORDB,
        ),
        NodeDef(
            "vector_upsert",
            "Vector Upsert",
            "Store embeddings in a vector database",
            cat,
            "DatabaseZap",
            "orange",
            (
                _data_in(("embeddings", "any")),
                Connector("data_out", "Result", "outbound", ("json",), "zero_or_many"),
            ),
            (collection, _field("id_field", "ID field", default="id")),
            ("vector", "upsert", "index", "rag", "store"),
            not_executable=NO_VECTORDB,
        ),
        NodeDef(
            "vector_search",
            "Vector Search",
            "Find the nearest documents to a query",
            cat,
            "Search",
            "orange",
            (
                _data_in(("string", "embeddings", "json", "any")),
                Connector("data_out", "Matches", "outbound", ("documents", "json"), "zero_or_many"),
            ),
            (collection, _field("top_k", "Top K", "integer", default=5)),
            ("vector", "search", "similarity", "rag", "retrieve"),
            not_executable=NO_VECTORDB,
        ),
    ]


def _notification() -> list[NodeDef]:
    cat = "notification"
    notify_in = _data_in(("any",), cardinality="zero_or_many", required=False)
    sent_out = Connector("data_out", "Result", "outbound", ("json",), "zero_or_many")
    return [
        NodeDef(
            "webhook_post",
            "Webhook",
            "POST the input as JSON to a URL, signed with a shared secret",
            cat,
            "Webhook",
            "red",
            (notify_in, sent_out),
            (
                _field("url", "URL", required=True),
                _field(
                    "secret",
                    "Signing secret",
                    "secret",
                    description="HMAC-SHA256 signature in the X-Dagy-Signature header",
                ),
                _field("secret_name", "Secret name", description="Read the secret from the vault"),
                _field("event", "Event", default="node.webhook"),
                _field("payload", "Payload", "json", description="Sent instead of the input"),
                _HEADERS,
                _field("timeout_seconds", "Timeout (s)", "number", default=10),
            ),
            ("webhook", "http", "post", "notify", "callback"),
            impl=f"{_RUN}.notify:webhook_post",
        ),
        NodeDef(
            "slack_message",
            "Slack Message",
            "Post a message to a Slack incoming webhook",
            cat,
            "Slack",
            "red",
            (notify_in, sent_out),
            (
                _field("webhook_url", "Webhook URL", "secret", required=True),
                _field("text", "Message", "text", required=True),
                _field("channel", "Channel"),
                _field("username", "Username"),
            ),
            ("slack", "chat", "message", "notify", "alert"),
            impl=f"{_RUN}.notify:slack_message",
        ),
        NodeDef(
            "email_send",
            "Send Email",
            "Send an email through SMTP",
            cat,
            "Mail",
            "red",
            (notify_in, sent_out),
            (
                _field("to", "To", "array", required=True, description="Addresses"),
                _field("subject", "Subject", required=True),
                _field("body", "Body", "text"),
                _field("smtp_host", "SMTP host", default="localhost"),
                _field("smtp_port", "SMTP port", "integer", default=25),
                _field("from_address", "From", default="dagy@localhost"),
                _field("starttls", "STARTTLS", "boolean", default=False),
                _field("username", "SMTP user"),
                _field("password_secret", "Password secret", description="A vault secret name"),
            ),
            ("email", "mail", "smtp", "notify", "alert"),
            impl=f"{_RUN}.notify:email_send",
        ),
        NodeDef(
            "pagerduty_event",
            "PagerDuty Event",
            "Trigger a PagerDuty incident (Events API v2)",
            cat,
            "Siren",
            "red",
            (notify_in, sent_out),
            (
                _field("routing_key", "Routing key", "secret", required=True),
                _field("summary", "Summary", required=True),
                _field(
                    "severity",
                    "Severity",
                    "select",
                    default="error",
                    options=("critical", "error", "warning", "info"),
                ),
                _field("source", "Source", default="dagy"),
                _field(
                    "url",
                    "Events URL",
                    default="https://events.pagerduty.com/v2/enqueue",
                ),
            ),
            ("pagerduty", "incident", "oncall", "notify", "alert"),
            impl=f"{_RUN}.notify:pagerduty_event",
        ),
    ]


def _custom() -> list[NodeDef]:
    cat = "custom"
    any_in = _data_in(("any",), cardinality="zero_or_many", required=False)
    any_out = _data_out(("any",))
    return [
        NodeDef(
            "python_function",
            "Python Function",
            "Call a Python function with the node's inputs as keyword arguments",
            cat,
            "Code",
            "gray",
            (any_in, any_out),
            (
                _field(
                    "function",
                    "Function",
                    required=True,
                    description="module:function or path/to/file.py:function",
                ),
                _field(
                    "materialize",
                    "Dataframes as records",
                    "boolean",
                    default=True,
                    description="Pass dataframe inputs as lists of records",
                ),
            ),
            ("python", "code", "function", "script", "custom"),
            impl=f"{_RUN}.code:python_function",
        ),
        NodeDef(
            "shell_command",
            "Shell Command",
            "Run a shell command; its last line of output is the result",
            cat,
            "Terminal",
            "gray",
            (any_in, _data_out(("string",))),
            (
                _field("command", "Command", "code", required=True),
                _field("env", "Environment", "object"),
                _field("cwd", "Working folder", description="Relative to the pipeline's folder"),
            ),
            ("shell", "bash", "command", "script", "cli"),
            impl=f"{_RUN}.code:shell_command",
        ),
        NodeDef(
            "docker_run",
            "Docker Run",
            "Run a container image",
            cat,
            "Container",
            "gray",
            (any_in, any_out),
            (
                _field("image", "Image", required=True),
                _field("command", "Command", "array"),
                _field("env", "Environment", "object"),
            ),
            ("docker", "container", "image"),
            not_executable=NO_CONTAINERS,
        ),
    ]


def _control_flow() -> list[NodeDef]:
    cat = "control_flow"
    any_in = _data_in(("any",))
    return [
        NodeDef(
            "condition",
            "Condition",
            "Route data down the true or the false branch; the other branch is skipped",
            cat,
            "GitBranch",
            "yellow",
            (
                any_in,
                Connector("true_out", "True", "outbound", ("any",), "zero_or_many"),
                Connector("false_out", "False", "outbound", ("any",), "zero_or_many"),
            ),
            (
                _field(
                    "field",
                    "Field",
                    description="A dotted path into the input, $count for its number of "
                    "records, or empty for the input itself",
                ),
                _field(
                    "operator",
                    "Operator",
                    "select",
                    default="==",
                    options=CONDITION_OPERATORS,
                ),
                _field(
                    "value", "Value", "json", description="Compared with the field (any JSON value)"
                ),
            ),
            ("if", "branch", "condition", "filter", "control"),
            impl=f"{_RUN}.control:condition",
        ),
        NodeDef(
            "map",
            "Map",
            "Fan the next node out over a list: one task run per item",
            cat,
            "Repeat",
            "yellow",
            (
                any_in,
                Connector("item_out", "Item", "outbound", ("any",), "zero_or_many"),
            ),
            (
                _field(
                    "field",
                    "List field",
                    description="Pick the list out of a dict input; the input itself when empty",
                ),
            ),
            ("map", "loop", "for each", "fan out", "iterate", "control"),
            impl=f"{_RUN}.control:map_items",
        ),
        NodeDef(
            "delay",
            "Delay",
            "Wait, then pass the input on unchanged",
            cat,
            "Timer",
            "yellow",
            (
                _data_in(("any",), cardinality="zero_or_one", required=False),
                _data_out(("any",)),
            ),
            (_field("seconds", "Seconds", "number", required=True),),
            ("delay", "wait", "sleep", "pause", "control"),
            impl=f"{_RUN}.control:delay",
        ),
    ]


def builtin_nodes() -> tuple[NodeDef, ...]:
    """The 27 built-ins, in category order (the node panel's order)."""
    return tuple(
        _ingestion()
        + _transform()
        + _llm()
        + _vectordb()
        + _notification()
        + _custom()
        + _control_flow()
    )
