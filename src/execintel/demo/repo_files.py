"""File contents of the demo repositories; ``@...@`` placeholders are filled with generated fake secrets."""

from __future__ import annotations

JADA_PACKAGE = """\
{
  "name": "jada-backend",
  "version": "1.8.0",
  "private": true,
  "main": "server.js",
  "scripts": {"start": "node server.js"},
  "dependencies": {"express": "4.18.2", "jsonwebtoken": "9.0.0", "pg": "8.11.0", "stripe": "12.9.0"}
}
"""

JADA_SERVER = """\
const express = require("express");

const app = express();
app.use(express.json());

app.get("/health", (req, res) => res.json({ ok: true }));

app.listen(process.env.PORT || 3000);
"""

JADA_SERVER_BILLING = """\
const express = require("express");
const payments = require("./src/payments");

const app = express();
app.use(express.json());

app.get("/health", (req, res) => res.json({ ok: true }));
app.post("/billing/subscribe", payments.subscribe);

app.listen(process.env.PORT || 3000);
"""

JADA_PAYMENTS = """\
// Stripe billing for JADA subscriptions.
const stripe = require("stripe")("@KEY@");

async function subscribe(req, res) {
  const customer = await stripe.customers.create({ email: req.body.email });
  const subscription = await stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: "price_standard_monthly" }],
  });
  res.json({ id: subscription.id });
}

module.exports = { subscribe };
"""

JADA_ACCOUNTS = """\
const jwt = require("jsonwebtoken");

function me(req, res) {
  const token = (req.headers.authorization || "").replace("Bearer ", "");
  const claims = jwt.verify(token, process.env.SESSION_SECRET);
  res.json({ email: claims.email });
}

module.exports = { me };
"""

JADA_README = """\
# JADA backend

Legacy Node.js/Express API. Runs on one EC2 instance.

Deploy: ssh to the instance, `git pull`, `npm install`, restart the service.
"""

REPOS_ENV = """\
AWS_ACCESS_KEY_ID=@KEY_ID@
AWS_SECRET_ACCESS_KEY=@SECRET@
AWS_REGION=us-west-2
SES_FROM_ADDRESS=reports@example.com
"""

SEND_REPORTS = '''\
"""Build the five executive reports and send them through SES (daily cohort)."""

import os

import boto3

SENDER = os.environ.get("SES_FROM_ADDRESS", "reports@example.com")
AUDIT = "audit@example.com"


def send_report(subject, body, recipient):
    ses = boto3.client("ses", region_name=os.environ.get("AWS_REGION", "us-west-2"))
    return ses.send_email(
        Source=SENDER,
        Destination={"ToAddresses": [recipient], "BccAddresses": [AUDIT]},
        Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": body}}},
    )["MessageId"]


if __name__ == "__main__":
    send_report("Daily operations", "(report body)", "ceo@example.com")
'''

SEND_REPORTS_2 = '''\
"""Weekly strategy cohort: CEO, CTO, CFO, CMO and accounting reports."""

from send_exec_reports import send_report

RECIPIENTS = {
    "ceo": "ceo@example.com",
    "cto": "cto@example.com",
    "cfo": "cfo@example.com",
    "cmo": "cmo@example.com",
    "accounting": "accounting@example.com",
}

if __name__ == "__main__":
    for report, address in RECIPIENTS.items():
        send_report(f"Weekly {report.upper()} report", "(report body)", address)
'''

OPS_README = """\
# ops-tools

Scripts that send the executive reports. Credentials come from `repos.env`
(AWS keys, region, sender address).
"""

LAMBDA_V1 = '''\
"""ShipCaptainCrew: crew schedules for Queen of San Diego charters."""

import json
import os

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ.get("TABLE_NAME", "shipcaptaincrew"))


def respond(status, body):
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def lambda_handler(event, context):
    path = event.get("path", "")
    if path == "/api/schedule" and event.get("httpMethod") == "GET":
        return respond(200, TABLE.scan().get("Items", []))
    return respond(404, {"error": "not found"})
'''

LAMBDA_V2 = LAMBDA_V1.replace(
    "import boto3\n",
    "import boto3\nimport jwt\n",
).replace(
    "def lambda_handler(event, context):\n",
    """def claims(event):
    token = (event.get("headers") or {}).get("Authorization", "").removeprefix("Bearer ")
    return jwt.decode(token, os.environ["JWT_SECRET"], algorithms=["HS256"])


def lambda_handler(event, context):
    try:
        user = claims(event)
    except jwt.PyJWTError:
        return respond(401, {"error": "login required"})
""",
)

LAMBDA_V3 = LAMBDA_V2.replace(
    '    return respond(404, {"error": "not found"})\n',
    """    if path == "/api/reports/executive" and event.get("httpMethod") == "POST":
        return respond(202, {"queued": "executive", "by": user.get("sub")})
    if path == "/api/reports/cto" and event.get("httpMethod") == "POST":
        return respond(202, {"queued": "cto", "by": user.get("sub")})
    return respond(404, {"error": "not found"})
""",
)

ENV_PRODUCTION = """\
TABLE_NAME=shipcaptaincrew
REPORTS_TABLE=shipcaptaincrew_reports
SES_FROM_ADDRESS=reports@example.com
JWT_SECRET=@JWT@
"""

FRONTEND_V1 = """\
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>ShipCaptainCrew</title></head>
<body>
  <h1>Crew schedule</h1>
  <table id="schedule"></table>
  <script src="app.js"></script>
</body>
</html>
"""

FRONTEND_V2 = FRONTEND_V1.replace(
    '  <script src="app.js"></script>\n',
    '  <section id="reports">\n    <button data-report="executive">Send executive reports</button>\n'
    '    <button data-report="cto">Send CTO audit</button>\n  </section>\n  <script src="app.js"></script>\n',
)

DEPLOY_SH = """\
#!/bin/sh
# Manual deploy: there is no staging and no CI.
set -e
python -m py_compile lambda_function.py
zip -r lambda_deployment.zip lambda_function.py
aws lambda update-function-code --function-name shipcaptaincrew --zip-file fileb://lambda_deployment.zip
aws s3 sync frontend/ s3://shipcaptaincrew-frontend/ --delete
aws cloudfront create-invalidation --distribution-id "$DISTRIBUTION_ID" --paths "/*"
"""

SCC_README = """\
# shipcaptaincrew

Lambda + API Gateway + DynamoDB backend, S3 + CloudFront frontend.
Deploy with `./deploy.sh` from a laptop with production credentials.
"""

GAS_CODE_V1 = """\
// Contact form endpoint. Deployed as a web app: execute as me, access: anyone.
function doGet(e) {
  return ContentService.createTextOutput(JSON.stringify({ fields: ["name", "email", "message"] }))
    .setMimeType(ContentService.MimeType.JSON);
}

function doPost(e) {
  const data = JSON.parse(e.postData.contents);
  SpreadsheetApp.getActive().getSheetByName("leads").appendRow([new Date(), data.name, data.email, data.message]);
  MailApp.sendEmail("leads@example.com", "New contact form lead", data.message);
  return ContentService.createTextOutput("ok");
}
"""

GAS_CODE_V2 = GAS_CODE_V1.replace(
    "function doPost(e) {\n  const data = JSON.parse(e.postData.contents);\n",
    "function doPost(e) {\n  const data = JSON.parse(e.postData.contents);\n"
    '  if (data.list === "newsletter") {\n'
    '    SpreadsheetApp.getActive().getSheetByName("newsletter").appendRow([new Date(), data.email]);\n'
    '    return ContentService.createTextOutput("subscribed");\n  }\n',
)

GAS_MANIFEST = """\
{
  "timeZone": "America/Los_Angeles",
  "runtimeVersion": "V8",
  "webapp": {"executeAs": "USER_DEPLOYING", "access": "ANYONE_ANONYMOUS"}
}
"""

GAS_README = """\
# gas-microservice

Google Apps Script web app for the DangerousCentaur contact form and
newsletter. Anyone with the URL can call it; there is no token check.
"""
