"""Each real service of the local stack answers: PostgreSQL, Kafka, DynamoDB and S3."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text

from inventory_app.adapters import aws
from tests.support import run_async


def test_postgres_answers_a_query(engine) -> None:
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 40 + 2")).scalar() == 42
        assert connection.execute(text("SELECT current_database()")).scalar() == "inventory_test"


def test_kafka_round_trips_a_message_on_a_fresh_topic(settings) -> None:
    topic = f"test-roundtrip-{uuid.uuid4().hex[:8]}"
    payload = uuid.uuid4().bytes

    async def round_trip() -> bytes:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, payload, key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=settings.kafka_bootstrap_servers, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), timeout=20)
            return message.value
        finally:
            await consumer.stop()

    assert run_async(round_trip()) == payload


def test_dynamodb_puts_and_gets_an_item(settings) -> None:
    table = f"test-stack-{uuid.uuid4().hex[:8]}"

    async def put_get() -> dict:
        async with aws.dynamodb_client(settings) as client:
            await client.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            )
            await client.put_item(TableName=table, Item={"pk": {"S": "a"}, "value": {"N": "7"}})
            item = (await client.get_item(TableName=table, Key={"pk": {"S": "a"}}))["Item"]
            await client.delete_table(TableName=table)
            return item

    assert run_async(put_get())["value"] == {"N": "7"}


def test_s3_puts_and_gets_an_object(settings) -> None:
    bucket = f"test-stack-{uuid.uuid4().hex[:8]}"

    async def put_get() -> bytes:
        async with aws.s3_client(settings) as client:
            await client.create_bucket(Bucket=bucket)
            await client.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello")
            response = await client.get_object(Bucket=bucket, Key="hello.txt")
            async with response["Body"] as body:
                return await body.read()

    assert run_async(put_get()) == b"hello"
