/// How far pgstash trusts a function call not to change a cached result.
enum FunctionVolatility: Equatable {
    /// Built-in, immutable or stable within a statement and independent of time and session.
    case safe
    /// Returns something new per call, per transaction or per session (`now()`, `random()`).
    case volatile
    /// Not a built-in pgstash knows: a user function may read anything.
    case unknown

    /// Classifies a function name as written in the SQL (schema prefix included).
    static func of(_ name: String, argumentCount: Int) -> FunctionVolatility {
        let bare = name.hasPrefix("pg_catalog.") ? String(name.dropFirst("pg_catalog.".count)) : name
        if bare.contains(".") { return .unknown }
        if volatileNames.contains(bare) || bare.hasPrefix("pg_advisory_") || bare.hasPrefix("pg_try_advisory_")
            || bare.hasPrefix("pg_sleep") || bare.hasPrefix("uuid_generate_") || bare.hasPrefix("txid_")
            || bare.hasPrefix("pg_stat_") || bare.hasPrefix("pg_current_") {
            return .volatile
        }
        // age(x) with one argument measures from current_date.
        if bare == "age" { return argumentCount >= 2 ? .safe : .volatile }
        return allowList.contains(bare) ? .safe : .unknown
    }

    /// Whether a function takes or releases a session-level advisory lock (not `_xact_`).
    static func isSessionAdvisoryLock(_ name: String) -> Bool {
        let bare = name.hasPrefix("pg_catalog.") ? String(name.dropFirst("pg_catalog.".count)) : name
        guard bare.hasPrefix("pg_advisory_") || bare.hasPrefix("pg_try_advisory_") else { return false }
        return !bare.contains("_xact_")
    }

    /// Known volatile, time-dependent or session-dependent built-ins.
    static let volatileNames: Set<String> = [
        "now", "statement_timestamp", "transaction_timestamp", "clock_timestamp", "timeofday",
        "random", "random_normal", "setseed", "nextval", "currval", "setval", "lastval",
        "gen_random_uuid", "gen_random_bytes", "pg_backend_pid", "pg_notify", "set_config",
        "current_setting", "current_database", "current_schema", "current_schemas", "current_user",
        "session_user", "current_role", "user", "current_query", "inet_client_addr",
        "inet_client_port", "inet_server_addr", "inet_server_port", "pg_postmaster_start_time",
        "pg_conf_load_time", "pg_is_in_recovery", "pg_last_xact_replay_timestamp",
        "pg_cancel_backend", "pg_terminate_backend", "pg_reload_conf", "pg_rotate_logfile",
        "pg_switch_wal", "pg_create_restore_point", "pg_relation_size", "pg_total_relation_size",
        "pg_table_size", "pg_indexes_size", "pg_database_size", "pg_column_size", "lo_import",
        "lo_export", "lo_create", "lo_unlink", "dblink", "dblink_exec", "pg_read_file",
        "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_xact_commit_timestamp",
        "pg_last_committed_xact", "pg_blocking_pids", "pg_safe_snapshot_blocking_pids",
        "pg_export_snapshot", "pg_logical_emit_message", "version",
    ]

    /// Built-in functions that are immutable, or stable and independent of the clock and the
    /// session: a cached result stays right until a table it read changes.
    static let allowList: Set<String> = [
        // aggregates and window functions
        "count", "sum", "avg", "min", "max", "array_agg", "string_agg", "json_agg", "jsonb_agg",
        "json_object_agg", "jsonb_object_agg", "bool_and", "bool_or", "every", "bit_and", "bit_or",
        "stddev", "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp", "corr",
        "covar_pop", "covar_samp", "regr_slope", "regr_intercept", "percentile_cont",
        "percentile_disc", "mode", "row_number", "rank", "dense_rank", "percent_rank", "cume_dist",
        "ntile", "lag", "lead", "first_value", "last_value", "nth_value", "grouping",
        // strings
        "lower", "upper", "initcap", "length", "char_length", "character_length", "octet_length",
        "bit_length", "trim", "btrim", "ltrim", "rtrim", "substring", "substr", "position", "strpos",
        "overlay", "replace", "translate", "concat", "concat_ws", "left", "right", "lpad", "rpad",
        "repeat", "reverse", "split_part", "starts_with", "format", "quote_ident", "quote_literal",
        "quote_nullable", "md5", "sha224", "sha256", "sha384", "sha512", "encode", "decode",
        "ascii", "chr", "to_hex", "regexp_replace", "regexp_match", "regexp_matches",
        "regexp_split_to_array", "regexp_split_to_table", "regexp_like", "regexp_count",
        "regexp_substr", "regexp_instr", "string_to_array", "array_to_string", "normalize",
        "unaccent", "similarity", "word_similarity", "strict_word_similarity", "show_trgm",
        "levenshtein", "soundex", "difference", "metaphone", "dmetaphone", "like_escape",
        // numbers
        "abs", "round", "floor", "ceil", "ceiling", "trunc", "mod", "power", "pow", "sqrt", "cbrt",
        "exp", "ln", "log", "log10", "sign", "div", "gcd", "lcm", "pi", "degrees", "radians",
        "width_bucket", "scale", "greatest", "least", "numeric", "int4", "int8", "float8", "text",
        // date and time (pure arithmetic on values given; no clock)
        "date_trunc", "date_part", "extract", "date_bin", "make_date", "make_time",
        "make_timestamp", "make_timestamptz", "make_interval", "justify_days", "justify_hours",
        "justify_interval", "isfinite", "to_char", "to_date", "to_timestamp", "to_number",
        "timezone", "overlaps",
        // json and arrays
        "to_json", "to_jsonb", "row_to_json", "array_to_json", "json_build_object",
        "jsonb_build_object", "json_build_array", "jsonb_build_array", "json_object", "jsonb_object",
        "json_array_length", "jsonb_array_length", "json_array_elements", "jsonb_array_elements",
        "json_array_elements_text", "jsonb_array_elements_text", "json_each", "jsonb_each",
        "json_each_text", "jsonb_each_text", "json_extract_path", "jsonb_extract_path",
        "json_extract_path_text", "jsonb_extract_path_text", "json_object_keys", "jsonb_object_keys",
        "json_typeof", "jsonb_typeof", "jsonb_set", "jsonb_insert", "jsonb_strip_nulls",
        "json_strip_nulls", "jsonb_pretty", "jsonb_path_query", "jsonb_path_exists",
        "jsonb_path_match", "jsonb_path_query_array", "jsonb_path_query_first",
        "array_length", "array_lower", "array_upper", "array_ndims", "array_dims", "cardinality",
        "array_position", "array_positions", "array_remove", "array_replace", "array_append",
        "array_prepend", "array_cat", "unnest", "generate_series", "generate_subscripts",
        // full text search
        "to_tsvector", "to_tsquery", "plainto_tsquery", "phraseto_tsquery", "websearch_to_tsquery",
        "ts_rank", "ts_rank_cd", "ts_headline", "setweight", "strip", "numnode", "querytree",
        // misc
        "coalesce", "nullif", "num_nulls", "num_nonnulls", "pg_typeof", "host", "network",
        "masklen", "inet", "cidr",
    ]
}
