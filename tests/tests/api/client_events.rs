//! Client lifecycle events on the emulator: the clients table's DynamoDB
//! stream (moto), fed to the `client-events` code under its own template role,
//! put on the default EventBridge bus, and caught by a rule whose target is an
//! SQS queue, as an authorization server's rule would catch them. Every step
//! (registered, updated, deleted, expired) arrives, and no event carries
//! secret material.

use aws_sdk_dynamodb::types::AttributeValue;
use dcr_aws::events::{EVENT_SOURCE, EventPublisher};
use dcr_aws::permissions::{Function, Storage};
use dcr_aws::template::Template;
use dcr_tests::lambda::LambdaApp;
use dcr_tests::{Engine, TestRequest, created, post_json};
use serde_json::{Value, json};

/// A queue on moto that a rule on the default bus feeds with this service's events.
async fn catch_events(app: &LambdaApp) -> String {
    let aws = app.aws();
    let name = format!(
        "dcr-events-{}",
        dcr_aws::testing::unique_name().replace('-', "")
    );
    let queue = aws
        .json_api("sqs", "AmazonSQS.CreateQueue", &json!({"QueueName": name}))
        .await
        .unwrap();
    let url = queue["QueueUrl"].as_str().unwrap().to_owned();
    let arn = format!(
        "arn:aws:sqs:us-east-1:{}:{name}",
        dcr_aws::testing::MOTO_ACCOUNT
    );
    // The rule docs/authorization-server.md shows.
    aws.json_api(
        "events",
        "AWSEvents.PutRule",
        &json!({
            "Name": name,
            "EventPattern": json!({"source": [EVENT_SOURCE]}).to_string(),
            "State": "ENABLED",
        }),
    )
    .await
    .unwrap();
    aws.json_api(
        "events",
        "AWSEvents.PutTargets",
        &json!({"Rule": name, "Targets": [{"Id": "queue", "Arn": arn}]}),
    )
    .await
    .unwrap();
    url
}

/// Every record of the table's stream so far, as one Lambda event batch.
async fn stream_batch(app: &LambdaApp) -> Value {
    let aws = app.aws();
    let table = aws
        .dynamodb()
        .describe_table()
        .table_name(&aws.table)
        .send()
        .await
        .unwrap();
    let stream = table
        .table()
        .unwrap()
        .latest_stream_arn()
        .unwrap()
        .to_owned();
    let described = aws
        .json_api(
            "dynamodb",
            "DynamoDBStreams_20120810.DescribeStream",
            &json!({"StreamArn": stream}),
        )
        .await
        .unwrap();
    let mut records = Vec::new();
    for shard in described["StreamDescription"]["Shards"].as_array().unwrap() {
        let iterator = aws
            .json_api(
                "dynamodb",
                "DynamoDBStreams_20120810.GetShardIterator",
                &json!({"StreamArn": stream, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
            )
            .await
            .unwrap();
        let got = aws
            .json_api(
                "dynamodb",
                "DynamoDBStreams_20120810.GetRecords",
                &json!({"ShardIterator": iterator["ShardIterator"], "Limit": 1000}),
            )
            .await
            .unwrap();
        records.extend(got["Records"].as_array().cloned().unwrap_or_default());
    }
    json!({"Records": records})
}

/// The events the queue holds.
async fn received(app: &LambdaApp, url: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let got = app
            .aws()
            .json_api(
                "sqs",
                "AmazonSQS.ReceiveMessage",
                &json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 300}),
            )
            .await
            .unwrap();
        let Some(messages) = got["Messages"].as_array().filter(|m| !m.is_empty()) else {
            return out;
        };
        for m in messages {
            out.push(serde_json::from_str(m["Body"].as_str().unwrap()).unwrap());
        }
    }
}

/// The token hash and sealed secret the table holds for a client.
async fn raw(app: &LambdaApp, id: &str) -> String {
    let item = app.aws().item(id).await.unwrap();
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => String::new(),
    };
    format!("{}\n{}", text("token_hash"), text("secret_sealed"))
}

async fn lifecycle_events_reach_the_bus(storage: Storage) {
    let config = "client_lifetime: 3600\n";
    let Some(app) = LambdaApp::spawn_in(storage, config, &|_, _| {}).await else {
        return;
    };
    let queue = catch_events(&app).await;
    let aws = app.aws();

    // registered, updated, then deleted.
    let body = json!({"redirect_uris": ["https://app.example.com/cb"], "client_name": "events"});
    let x = created(&post_json(&app, &body, None).await);
    let x_id = x["client_id"].as_str().unwrap().to_owned();
    let x_token = x["registration_access_token"].as_str().unwrap();
    let mut secrets = vec![
        x["client_secret"].as_str().unwrap().to_owned(),
        x_token.to_owned(),
    ];
    let renamed =
        json!({"redirect_uris": ["https://app.example.com/cb"], "client_name": "renamed"});
    let put = app
        .send(
            TestRequest::new("PUT", &format!("/register/{x_id}"))
                .bearer(x_token)
                .json(&renamed),
        )
        .await;
    assert_eq!(put.status, 200);
    secrets.extend(raw(&app, &x_id).await.lines().map(str::to_owned));
    let deleted = app
        .send(TestRequest::new("DELETE", &format!("/register/{x_id}")).bearer(x_token))
        .await;
    assert_eq!(deleted.status, 204);

    // registered, then expired (its lifetime moved into the past; the sweep removes it).
    let y = created(&post_json(&app, &body, None).await);
    let y_id = y["client_id"].as_str().unwrap().to_owned();
    secrets.push(y["client_secret"].as_str().unwrap().to_owned());
    secrets.push(y["registration_access_token"].as_str().unwrap().to_owned());
    secrets.extend(raw(&app, &y_id).await.lines().map(str::to_owned));
    let past = (dcr_core::Clock::now(&dcr_core::SystemClock) - 1).to_string();
    aws.dynamodb()
        .update_item()
        .table_name(&aws.table)
        .key("client_id", AttributeValue::S(y_id.clone()))
        .update_expression("SET expires_at = :p, sweep_at = :p, unsettled = :one")
        .expression_attribute_values(":p", AttributeValue::N(past))
        .expression_attribute_values(":one", AttributeValue::S("1".into()))
        .send()
        .await
        .unwrap();
    let swept = dcr_lambda::testing::app(aws, dcr_core::Config::from_yaml(config).unwrap())
        .service()
        .sweep(100)
        .await
        .unwrap();
    assert_eq!(swept.expired_removed, 1);

    // The stream, through the client events code under its template role.
    let policies = Template::load()
        .unwrap()
        .policies(Function::Events, &aws.deployment())
        .unwrap();
    let role = aws.assume_role("events", &policies).await.unwrap();
    let publisher = EventPublisher::new(aws_sdk_eventbridge::Client::new(&role));
    let published = publisher.publish(&stream_batch(&app).await).await.unwrap();
    assert_eq!(
        published, 5,
        "two registrations, an update, a delete, an expiry"
    );

    let events: Vec<Value> = received(&app, &queue)
        .await
        .into_iter()
        .filter(|e| {
            [&x_id, &y_id].contains(&&e["detail"]["client_id"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    let steps: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            (
                e["detail"]["client_id"].as_str().unwrap().to_owned(),
                e["detail-type"].as_str().unwrap().to_owned(),
                e["detail"]["event"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        (&x_id, "Client Registered", "registered"),
        (&x_id, "Client Updated", "updated"),
        (&x_id, "Client Deleted", "deleted"),
        (&y_id, "Client Registered", "registered"),
        (&y_id, "Client Expired", "expired"),
    ];
    for (id, kind, event) in want {
        assert!(
            steps.contains(&(id.clone(), kind.to_owned(), event.to_owned())),
            "{kind} of {id} missing from {steps:?}"
        );
    }
    assert_eq!(steps.len(), want.len(), "{steps:?}");
    for event in &events {
        assert_eq!(event["source"], EVENT_SOURCE);
        let text = event.to_string();
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            assert!(!text.contains(secret.as_str()), "secret material in {text}");
        }
        for field in [
            "token_hash",
            "previous_token_hash",
            "secret_sealed",
            "secret_key_version",
            "software_statement",
            "client_secret",
            "registration_access_token",
        ] {
            assert!(
                !text.contains(&format!("\"{field}\":")),
                "{field} in {text}"
            );
        }
    }
    let updated = events
        .iter()
        .find(|e| e["detail"]["event"] == "updated")
        .unwrap();
    assert_eq!(updated["detail"]["client"]["client_name"], "renamed");
    assert_eq!(
        updated["detail"]["client"]["token_endpoint_auth_method"],
        "client_secret_basic"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_events_reach_the_bus_with_secrets_in_secrets_manager() {
    lifecycle_events_reach_the_bus(Storage::SecretsManager).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_events_reach_the_bus_with_sealed_secrets() {
    lifecycle_events_reach_the_bus(Storage::Sealed).await;
}
