"""The AI studio: sessions in which a request in words becomes a validated, runnable pipeline
(docs/ai-studio.md). Providers (dagy.studio_providers) plan; everything else lives here."""
