//! AWS adapters: DynamoDB client store, Secrets Manager secret store, Lambda bootstrap.
