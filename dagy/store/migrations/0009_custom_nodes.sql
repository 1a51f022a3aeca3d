-- Custom node types of an org (the builder's node registry beside the built-ins, which live in
-- code). definition_json holds the API definition (label, description, category, icon, color,
-- connectors, config_schema, tags); a PUT copies the row it replaces into custom_node_versions and
-- bumps version, so every earlier definition stays readable.
CREATE TABLE custom_nodes (
    org_id           VARCHAR NOT NULL,
    node_type        VARCHAR NOT NULL,
    version          INTEGER NOT NULL DEFAULT 1,
    definition_json  VARCHAR NOT NULL,
    import_path      VARCHAR NOT NULL,             -- "package.module:attr", what runs the node
    created_by       VARCHAR,
    updated_by       VARCHAR,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, node_type)
);

-- Earlier versions of a custom node: one row per replaced version, as it was.
CREATE TABLE custom_node_versions (
    org_id           VARCHAR NOT NULL,
    node_type        VARCHAR NOT NULL,
    version          INTEGER NOT NULL,
    definition_json  VARCHAR NOT NULL,
    import_path      VARCHAR NOT NULL,
    created_by       VARCHAR,                      -- who wrote this version
    created_at       TIMESTAMP NOT NULL,           -- when this version was written
    replaced_by      VARCHAR,
    replaced_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, node_type, version)
);
