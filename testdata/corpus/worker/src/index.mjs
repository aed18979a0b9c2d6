// The worker: each invocation drains up to 25 due jobs from its table.
import { DynamoDBClient, ScanCommand, DeleteItemCommand } from "@aws-sdk/client-dynamodb";

const db = new DynamoDBClient({});

export const handler = async () => {
  const table = process.env.TABLE;
  const due = await db.send(new ScanCommand({ TableName: table, Limit: 25 }));
  for (const item of due.Items ?? []) {
    console.log(JSON.stringify({ job: item.id.S }));
    await db.send(new DeleteItemCommand({ TableName: table, Key: { id: item.id } }));
  }
  return { drained: due.Items?.length ?? 0 };
};
