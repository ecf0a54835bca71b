"""Every attribute, span, event and metric name agentel emits, in one place.

The values follow the OpenTelemetry GenAI semantic conventions (v1.37-v1.41). They are kept
as plain strings here rather than imported from ``opentelemetry-semantic-conventions``,
whose GenAI constants are marked deprecated and warn on import.
"""

from __future__ import annotations

# --- operations (gen_ai.operation.name values, also the first word of span names) ---------
OP_INVOKE_WORKFLOW = "invoke_workflow"
OP_INVOKE_AGENT = "invoke_agent"
OP_CHAT = "chat"
OP_EXECUTE_TOOL = "execute_tool"
OP_APPLY_GUARDRAIL = "apply_guardrail"

# --- common ------------------------------------------------------------------------------
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
ERROR_TYPE = "error.type"
ERROR_TYPE_OTHER = "_OTHER"
# the OTel ``exception`` event that records an exception on the span where it was raised
EVENT_EXCEPTION = "exception"
EXCEPTION_TYPE = "exception.type"
EXCEPTION_MESSAGE = "exception.message"
EXCEPTION_STACKTRACE = "exception.stacktrace"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"

PROVIDER_OPENAI = "openai"

# --- workflow ----------------------------------------------------------------------------
GEN_AI_WORKFLOW_NAME = "gen_ai.workflow.name"

# --- agent -------------------------------------------------------------------------------
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_AGENT_DESCRIPTION = "gen_ai.agent.description"
GEN_AI_OUTPUT_TYPE = "gen_ai.output.type"
OUTPUT_TYPE_TEXT = "text"
OUTPUT_TYPE_JSON = "json"

# --- model call --------------------------------------------------------------------------
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_SEED = "gen_ai.request.seed"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"

# --- usage -------------------------------------------------------------------------------
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"

# --- content (opt-in) --------------------------------------------------------------------
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_TOOL_DEFINITIONS = "gen_ai.tool.definitions"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"

# --- tools and handoffs ------------------------------------------------------------------
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_TYPE = "gen_ai.tool.type"
GEN_AI_TOOL_DESCRIPTION = "gen_ai.tool.description"
TOOL_TYPE_FUNCTION = "function"
TOOL_TYPE_HANDOFF = "handoff"
TOOL_TYPE_EXTENSION = "extension"
AGENTEL_HANDOFF_FROM_AGENT = "agentel.handoff.from_agent"
AGENTEL_HANDOFF_TO_AGENT = "agentel.handoff.to_agent"
AGENTEL_MCP_SERVER = "agentel.mcp.server"

# --- guardrails --------------------------------------------------------------------------
GEN_AI_GUARDRAIL_COMPONENT_NAME = "gen_ai.guardrail.component.name"
GEN_AI_GUARDRAIL_SOURCE = "gen_ai.guardrail.source"
GEN_AI_GUARDRAIL_RESULT_TYPE = "gen_ai.guardrail.result.type"
GEN_AI_GUARDRAIL_RESULT_VALUE = "gen_ai.guardrail.result.value"
GUARDRAIL_RESULT_TRIPWIRE = "tripwire_triggered"
GUARDRAIL_SOURCE_INPUT = "input"
GUARDRAIL_SOURCE_OUTPUT = "output"
GUARDRAIL_SOURCE_TOOL_INPUT = "tool_input"
GUARDRAIL_SOURCE_TOOL_OUTPUT = "tool_output"
EVENT_GUARDRAIL_RESULT = "gen_ai.guardrail.result"

# --- our own -----------------------------------------------------------------------------
AGENTEL_METADATA_PREFIX = "agentel.metadata."
AGENTEL_USAGE_COST_USD = "agentel.usage.cost_usd"
AGENTEL_SDK_SPAN_TYPE = "agentel.sdk.span_type"
AGENTEL_CUSTOM_PREFIX = "agentel.custom."  # + each key of agents.custom_span(name, data)

# --- events (content as events, when EVENT_ONLY / SPAN_AND_EVENT) -------------------------
EVENT_CLIENT_INFERENCE_DETAILS = "gen_ai.client.inference.operation.details"

# --- metrics -----------------------------------------------------------------------------
METRIC_OPERATION_DURATION = "gen_ai.client.operation.duration"
METRIC_TOKEN_USAGE = "gen_ai.client.token.usage"
METRIC_INVOKE_AGENT_DURATION = "gen_ai.invoke_agent.duration"
METRIC_EXECUTE_TOOL_DURATION = "gen_ai.execute_tool.duration"
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"
TOKEN_TYPE_INPUT = "input"
TOKEN_TYPE_OUTPUT = "output"

DURATION_BUCKETS = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
AGENT_DURATION_BUCKETS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6)
TOKEN_BUCKETS = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)

# --- OpenInference dialect (added at export time, opt-in) ---------------------------------
OI_SPAN_KIND = "openinference.span.kind"
OI_INPUT_VALUE = "input.value"
OI_OUTPUT_VALUE = "output.value"
OI_SESSION_ID = "session.id"
OI_LLM_MODEL_NAME = "llm.model_name"
OI_LLM_PROVIDER = "llm.provider"
OI_LLM_TOKEN_COUNT_PROMPT = "llm.token_count.prompt"
OI_LLM_TOKEN_COUNT_COMPLETION = "llm.token_count.completion"
OI_LLM_TOKEN_COUNT_TOTAL = "llm.token_count.total"
OI_TOOL_NAME = "tool.name"

# OpenInference names beyond the core set above, also written only by the export dialect.
OI_INPUT_MIME_TYPE = "input.mime_type"
OI_OUTPUT_MIME_TYPE = "output.mime_type"
OI_AGENT_NAME = "agent.name"
OI_METADATA = "metadata"
OI_PROJECT_NAME = "openinference.project.name"
OI_LLM_TOKEN_COUNT_PROMPT_CACHE_READ = "llm.token_count.prompt_details.cache_read"
OI_LLM_TOKEN_COUNT_COMPLETION_REASONING = "llm.token_count.completion_details.reasoning"
OI_MIME_JSON = "application/json"
OI_KIND_CHAIN = "CHAIN"
OI_KIND_AGENT = "AGENT"
OI_KIND_LLM = "LLM"
OI_KIND_TOOL = "TOOL"
OI_KIND_GUARDRAIL = "GUARDRAIL"
OI_MIME_TEXT = "text/plain"

# --- Langfuse's trace-level keys (its OTel ingestion, attributes.ts), for the langfuse dialect.
LANGFUSE_SESSION_ID = "langfuse.session.id"
LANGFUSE_USER_ID = "langfuse.user.id"
LANGFUSE_TRACE_NAME = "langfuse.trace.name"
LANGFUSE_TRACE_INPUT = "langfuse.trace.input"
LANGFUSE_TRACE_OUTPUT = "langfuse.trace.output"
LANGFUSE_TRACE_METADATA_PREFIX = "langfuse.trace.metadata."
USER_ID = "user.id"  # OTel's user attribute; Langfuse and OpenInference both read it
# Trace metadata keys taken as the end user's id, first found wins.
USER_ID_METADATA_KEYS = ("user_id", "user.id", "userId", "user")
