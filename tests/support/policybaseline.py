"""A synthetic, fully compliant stack with one of every resource kind the policy rules look at.

The rule tests (tests/policies) mutate a copy of it and expect the mutated rule to fire; the unmutated
baseline must produce no violation at all (the compliant case of every rule). The benchmark repeats it to
build large synthetic stacks."""

from __future__ import annotations

import json

from policytest import aws_provider, graph_of, k8s_provider, resource

from mlops_platform.mlops.graph import Graph, Resource

ACCOUNT = "123456789012"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def key_policy() -> str:
    return doc(
        {
            "Sid": "Root",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Principal": {"Service": "logs.eu-west-1.amazonaws.com"},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {
                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:eu-west-1:{ACCOUNT}:*"}
            },
        },
        {
            "Sid": "Ebs",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["kms:CreateGrant", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:CallerAccount": ACCOUNT,
                    "kms:ViaService": "ec2.eu-west-1.amazonaws.com",
                }
            },
        },
    )


def tls_policy(bucket: str) -> str:
    return doc(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def _bucket_set(name: str, physical: str, *, log_target: Resource | None, sse: str) -> list[Resource]:
    b = resource("aws:s3/bucket:Bucket", name, {"bucket": physical, "forceDestroy": False}, protect=True)
    dep = {"bucket": [b]}
    out = [
        b,
        resource(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            f"{name}-pab",
            {
                "bucket": physical,
                "blockPublicAcls": True,
                "blockPublicPolicy": True,
                "ignorePublicAcls": True,
                "restrictPublicBuckets": True,
            },
            deps=dep,
        ),
        resource(
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            f"{name}-ownership",
            {"bucket": physical, "rule": {"objectOwnership": "BucketOwnerEnforced"}},
            deps=dep,
        ),
        resource(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            f"{name}-sse",
            {
                "bucket": physical,
                "rules": [
                    {
                        "applyServerSideEncryptionByDefault": {
                            "sseAlgorithm": sse,
                            **({"kmsMasterKeyId": KEY_ARN} if sse == "aws:kms" else {}),
                        },
                        "bucketKeyEnabled": True,
                    }
                ],
            },
            deps=dep,
        ),
        resource(
            "aws:s3/bucketVersioning:BucketVersioning",
            f"{name}-versioning",
            {"bucket": physical, "versioningConfiguration": {"status": "Enabled"}},
            deps=dep,
        ),
        resource(
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            f"{name}-lifecycle",
            {
                "bucket": physical,
                "rules": [
                    {
                        "id": "noncurrent",
                        "status": "Enabled",
                        "filter": {},
                        "noncurrentVersionExpiration": {"noncurrentDays": 90},
                    },
                    {
                        "id": "abort",
                        "status": "Enabled",
                        "filter": {},
                        "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
                    },
                ],
            },
            deps=dep,
        ),
        resource(
            "aws:s3/bucketPolicy:BucketPolicy",
            f"{name}-policy",
            {"bucket": physical, "policy": tls_policy(physical)},
            deps=dep,
        ),
    ]
    if log_target is not None:
        out.append(
            resource(
                "aws:s3/bucketLogging:BucketLogging",
                f"{name}-logging",
                {"bucket": physical, "targetBucket": log_target.inputs["bucket"], "targetPrefix": "s3/"},
                deps={"bucket": [b], "targetBucket": [log_target]},
            )
        )
    return out


def container(
    name: str = "app",
    image: str = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/serving:1.2.3",
    probes: bool = True,
) -> dict:
    c: dict = {
        "name": name,
        "image": image,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
        "ports": [{"containerPort": 5000}],
    }
    if probes:
        c["livenessProbe"] = {"httpGet": {"path": "/health", "port": 5000}}
        c["readinessProbe"] = {"httpGet": {"path": "/health", "port": 5000}}
    return c


def pod_template(*containers: dict) -> dict:
    return {
        "metadata": {"labels": {"app": "x"}},
        "spec": {
            "securityContext": {"runAsNonRoot": True},
            "containers": list(containers),
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }


def baseline(env: str = "prod") -> Graph:
    prov = aws_provider(env)
    k8s = k8s_provider()
    platform = resource("mlops:platform:MlopsPlatform", "mlops")
    registry = resource("mlops:mlflow:ModelRegistry", "mlops-registry")
    monitoring = resource("mlops:monitoring:Monitoring", "mlops-monitoring")
    key = resource(
        "aws:kms/key:Key",
        "data-key",
        {"enableKeyRotation": True, "deletionWindowInDays": 30, "policy": key_policy()},
        protect=True,
    )
    logs_bucket = resource(
        "aws:s3/bucket:Bucket", "logs", {"bucket": "mlops-logs", "forceDestroy": False}, protect=True
    )
    log_set = _bucket_set("logs", "mlops-logs", log_target=None, sse="AES256")
    log_set[0] = logs_bucket
    for r in log_set[1:]:
        r.property_dependencies = {"bucket": [logs_bucket.urn]}
    art_set = _bucket_set("artifacts", "mlops-artifacts", log_target=logs_bucket, sse="aws:kms")

    vpc = resource(
        "aws:ec2/vpc:Vpc",
        "vpc",
        {"cidrBlock": "10.0.0.0/16"},
        outputs={"cidrBlock": "10.0.0.0/16", "id": "vpc-1"},
    )
    igw = resource(
        "aws:ec2/internetGateway:InternetGateway", "igw", {"vpcId": "vpc-1"}, deps={"vpcId": [vpc]}
    )
    public = resource(
        "aws:ec2/subnet:Subnet",
        "public-0",
        {
            "vpcId": "vpc-1",
            "cidrBlock": "10.0.128.0/22",
            "mapPublicIpOnLaunch": False,
            "tags": {"tier": "public", "kubernetes.io/role/elb": "1"},
        },
        deps={"vpcId": [vpc]},
    )
    private = [
        resource(
            "aws:ec2/subnet:Subnet",
            f"private-{i}",
            {
                "vpcId": "vpc-1",
                "cidrBlock": f"10.0.{i * 32}.0/19",
                "mapPublicIpOnLaunch": False,
                "tags": {"tier": "private"},
            },
            deps={"vpcId": [vpc]},
        )
        for i in range(2)
    ]
    public_rt = resource(
        "aws:ec2/routeTable:RouteTable",
        "public-rt",
        {"vpcId": "vpc-1", "routes": [{"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-1"}]},
        deps={"vpcId": [vpc], "routes": [igw]},
    )
    assoc = resource(
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "public-0",
        {"subnetId": "public-0-id", "routeTableId": "public-rt-id"},
        deps={"subnetId": [public], "routeTableId": [public_rt]},
    )
    secrets_endpoint = resource(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "secretsmanager-endpoint",
        {
            "vpcId": "vpc-1",
            "vpcEndpointType": "Interface",
            "serviceName": "com.amazonaws.eu-west-1.secretsmanager",
            "privateDnsEnabled": True,
            "policy": doc(
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
                }
            ),
        },
        deps={"vpcId": [vpc]},
    )
    flow_group = resource(
        "aws:cloudwatch/logGroup:LogGroup", "flow-logs", {"retentionInDays": 365, "kmsKeyId": KEY_ARN}
    )
    flow = resource(
        "aws:ec2/flowLog:FlowLog",
        "flow",
        {"vpcId": "vpc-1", "trafficType": "ALL", "logDestination": "arn:aws:logs:x"},
        deps={"vpcId": [vpc], "logDestination": [flow_group]},
    )
    default_sg = resource(
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "default-sg",
        {"vpcId": "vpc-1"},
        deps={"vpcId": [vpc]},
    )
    alb_sg = resource(
        "aws:ec2/securityGroup:SecurityGroup",
        "alb-sg",
        {
            "vpcId": "vpc-1",
            "ingress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}],
        },
    )
    db_sg = resource("aws:ec2/securityGroup:SecurityGroup", "db-sg", {"vpcId": "vpc-1"})
    db_ingress = resource(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "db-from-nodes",
        {
            "securityGroupId": "db-sg-id",
            "referencedSecurityGroupId": "sg-nodes",
            "ipProtocol": "tcp",
            "fromPort": 5432,
            "toPort": 5432,
        },
    )
    pg = resource(
        "aws:rds/parameterGroup:ParameterGroup",
        "pg",
        {"family": "postgres17", "name": "mlops-pg", "parameters": [{"name": "rds.force_ssl", "value": "1"}]},
    )
    db = resource(
        "aws:rds/instance:Instance",
        "db",
        {
            "engine": "postgres",
            "engineVersion": "17.6",
            "instanceClass": "db.r7g.large",
            "publiclyAccessible": False,
            "storageEncrypted": True,
            "kmsKeyId": KEY_ARN,
            "backupRetentionPeriod": 14,
            "deletionProtection": True,
            "skipFinalSnapshot": False,
            "finalSnapshotIdentifier": "db-final",
            "multiAz": True,
            "manageMasterUserPassword": True,
            "masterUserSecretKmsKeyId": KEY_ARN,
            "iamDatabaseAuthenticationEnabled": True,
            "enabledCloudwatchLogsExports": ["postgresql", "upgrade"],
            "autoMinorVersionUpgrade": True,
            "performanceInsightsEnabled": True,
            "performanceInsightsKmsKeyId": KEY_ARN,
            "parameterGroupName": "mlops-pg",
        },
        deps={"parameterGroupName": [pg]},
        protect=True,
    )
    secret = resource("aws:secretsmanager/secret:Secret", "secret", {"kmsKeyId": KEY_ARN})

    cluster = resource(
        "aws:eks/cluster:Cluster",
        "eks",
        {
            "version": "1.36",
            "vpcConfig": {
                "endpointPrivateAccess": True,
                "endpointPublicAccess": False,
                "subnetIds": ["private-0-id", "private-1-id"],
            },
            "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": KEY_ARN}},
            "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
            "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
        },
    )
    lt = resource(
        "aws:ec2/launchTemplate:LaunchTemplate",
        "nodes-lt",
        {
            "metadataOptions": {
                "httpEndpoint": "enabled",
                "httpTokens": "required",
                "httpPutResponseHopLimit": 1,
            },
            "blockDeviceMappings": [
                {
                    "deviceName": "/dev/xvda",
                    "ebs": {"encrypted": "true", "volumeType": "gp3", "kmsKeyId": KEY_ARN},
                }
            ],
        },
    )
    node_role = resource(
        "aws:iam/role:Role",
        "node-role",
        {
            "assumeRolePolicy": doc(
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            )
        },
    )
    attachments = [
        resource(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            f"node-{p}",
            {"role": "node-role", "policyArn": f"arn:aws:iam::aws:policy/{p}"},
        )
        for p in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonEKS_CNI_Policy")
    ]
    nodes = resource(
        "aws:eks/nodeGroup:NodeGroup",
        "system",
        {
            "clusterName": "eks",
            "subnetIds": ["private-0-id", "private-1-id"],
            "instanceTypes": ["m6i.large"],
            "launchTemplate": {"id": "lt-1", "version": "1"},
            "nodeRoleArn": "arn:aws:iam::123456789012:role/node",
        },
        deps={"subnetIds": private, "launchTemplate": [lt]},
    )
    gpu = resource(
        "aws:eks/nodeGroup:NodeGroup",
        "gpu",
        {
            "clusterName": "eks",
            "subnetIds": ["private-0-id"],
            "instanceTypes": ["g5.xlarge"],
            "launchTemplate": {"id": "lt-1", "version": "1"},
            "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}],
        },
        deps={"subnetIds": private[:1], "launchTemplate": [lt]},
    )
    irsa = resource(
        "aws:iam/role:Role",
        "mlflow-irsa",
        {
            "assumeRolePolicy": doc(
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}"},
                    "Condition": {
                        "StringEquals": {
                            f"{ISSUER}:sub": "system:serviceaccount:mlflow:mlflow",
                            f"{ISSUER}:aud": "sts.amazonaws.com",
                        }
                    },
                }
            ),
            "inlinePolicies": [
                {
                    "name": "artifacts",
                    "policy": doc(
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                            "Resource": "arn:aws:s3:::mlops-artifacts/mlflow/*",
                        },
                        {
                            "Effect": "Allow",
                            "Action": "s3:ListBucket",
                            "Resource": "arn:aws:s3:::mlops-artifacts",
                        },
                    ),
                }
            ],
        },
    )
    metrics_policy = resource(
        "aws:iam/policy:Policy",
        "metrics",
        {
            "policy": doc(
                {
                    "Effect": "Allow",
                    "Action": ["cloudwatch:PutMetricData", "cloudwatch:GetMetricData", "ec2:Describe*"],
                    "Resource": "*",
                }
            )
        },
    )
    repo = resource(
        "aws:ecr/repository:Repository",
        "serving",
        {
            "name": "serving",
            "imageTagMutability": "IMMUTABLE",
            "imageScanningConfiguration": {"scanOnPush": True},
            "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KEY_ARN}],
        },
        protect=True,
    )
    repo_lifecycle = resource(
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "serving-lifecycle",
        {"repository": "serving", "policy": "{}"},
        deps={"repository": [repo]},
    )
    repo_policy = resource(
        "aws:ecr/repositoryPolicy:RepositoryPolicy",
        "serving-policy",
        {
            "repository": "serving",
            "policy": doc(
                {
                    "Sid": "NodesPull",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/node"},
                    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                }
            ),
        },
        deps={"repository": [repo]},
    )
    topic = resource("aws:sns/topic:Topic", "alerts", {"kmsMasterKeyId": KEY_ARN})
    topic_policy = resource(
        "aws:sns/topicPolicy:TopicPolicy",
        "alerts-policy",
        {
            "arn": "arn:aws:sns:x",
            "policy": doc(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": "arn:aws:sns:x",
                    "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
                }
            ),
        },
    )

    ns = resource("kubernetes:core/v1:Namespace", "mlflow-ns", {"metadata": {"name": "mlflow"}}, provider=k8s)
    deny = resource(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "mlflow-default-deny",
        {
            "metadata": {"name": "default-deny", "namespace": "mlflow"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        provider=k8s,
    )
    addon = resource(
        "aws:eks/addon:Addon",
        "coredns",
        {"clusterName": "eks", "addonName": "coredns", "addonVersion": "v1.12.1-eksbuild.2"},
    )
    subscription = resource(
        "aws:sns/topicSubscription:TopicSubscription",
        "alerts-https",
        {"topic": "arn:aws:sns:x", "protocol": "https", "endpoint": "https://hooks.example.com/x"},
    )
    deployment = resource(
        "kubernetes:apps/v1:Deployment",
        "mlflow",
        {
            "metadata": {
                "name": "mlflow",
                "namespace": "mlflow",
                "labels": {"app.kubernetes.io/name": "mlflow"},
            },
            "spec": {"replicas": 2, "template": pod_template(container("mlflow"))},
        },
        provider=k8s,
    )
    db_credentials = resource(
        "kubernetes:external-secrets.io/v1:ExternalSecret",
        "mlflow-db",
        {
            "metadata": {"name": "mlflow-db", "namespace": "mlflow"},
            "spec": {
                "secretStoreRef": {"name": "aws-secrets-manager", "kind": "SecretStore"},
                "data": [
                    {
                        "secretKey": "password",
                        "remoteRef": {
                            "key": f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:mlops/database/mlflow-AbCdEf",
                            "property": "password",
                        },
                    }
                ],
            },
        },
        provider=k8s,
    )
    cronjob = resource(
        "kubernetes:batch/v1:CronJob",
        "gc",
        {
            "metadata": {"name": "gc", "namespace": "mlflow"},
            "spec": {
                "schedule": "0 3 * * *",
                "jobTemplate": {"spec": {"template": pod_template(container("gc", probes=False))}},
            },
        },
        provider=k8s,
    )
    service = resource(
        "kubernetes:core/v1:Service",
        "mlflow-svc",
        {"metadata": {"name": "mlflow", "namespace": "mlflow"}, "spec": {"type": "ClusterIP"}},
        provider=k8s,
    )
    lb = resource(
        "kubernetes:core/v1:Service",
        "serving-lb",
        {
            "metadata": {
                "name": "serving",
                "namespace": "mlflow",
                "annotations": {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"},
            },
            "spec": {"type": "LoadBalancer"},
        },
        provider=k8s,
    )
    helm = resource(
        "kubernetes:helm.sh/v3:Release",
        "kps",
        {
            "chart": "kube-prometheus-stack",
            "version": "77.0.0",
            "namespace": "monitoring",
            "repositoryOpts": {"repo": "https://prometheus-community.github.io/helm-charts"},
        },
        provider=k8s,
    )
    monitoring_deny = resource(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "monitoring-default-deny",
        {
            "metadata": {"name": "default-deny", "namespace": "monitoring"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        provider=k8s,
    )
    deploy_logs = resource(
        "aws:cloudwatch/logGroup:LogGroup",
        "deploy-logs",
        {"name": "/aws/codebuild/mlops-deploy", "retentionInDays": 365, "kmsKeyId": KEY_ARN},
    )
    deploy_role = resource(
        "aws:iam/role:Role",
        "deploy-role",
        {
            "path": "/mlops-deploy/",
            "assumeRolePolicy": doc(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "codebuild.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": ACCOUNT},
                        "ArnEquals": {
                            "aws:SourceArn": f"arn:aws:codebuild:eu-west-1:{ACCOUNT}:project/mlops-deploy"
                        },
                    },
                }
            ),
            "inlinePolicies": [
                {
                    "name": "deploy",
                    "policy": doc({"Effect": "Allow", "Action": ["ec2:*"], "Resource": "*"}),
                }
            ],
        },
    )
    deploy_project = resource(
        "aws:codebuild/project:Project",
        "deploy-project",
        {
            "name": "mlops-deploy",
            "serviceRole": "deploy-role-arn",
            "buildTimeout": 120,
            "encryptionKey": KEY_ARN,
            "source": {"type": "S3", "location": "state/deploy-sources/prod/source.zip"},
            "environment": {
                "computeType": "BUILD_GENERAL1_MEDIUM",
                "image": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
                "type": "LINUX_CONTAINER",
                "privilegedMode": False,
                "environmentVariables": [{"name": "PULUMI_STACK", "value": "prod", "type": "PLAINTEXT"}],
            },
            "logsConfig": {
                "cloudwatchLogs": {"status": "ENABLED", "groupName": "/aws/codebuild/mlops-deploy"},
                "s3Logs": {"status": "DISABLED"},
            },
            "vpcConfig": {"vpcId": "vpc-1", "subnets": ["private-0-id"], "securityGroupIds": ["sg-runner"]},
        },
        deps={"serviceRole": [deploy_role], "logsConfig": [deploy_logs]},
    )

    return graph_of(
        [
            prov,
            k8s,
            platform,
            registry,
            monitoring,
            key,
            *log_set,
            *art_set,
            vpc,
            igw,
            public,
            *private,
            public_rt,
            assoc,
            flow_group,
            flow,
            default_sg,
            alb_sg,
            db_sg,
            db_ingress,
            pg,
            db,
            secret,
            cluster,
            lt,
            node_role,
            *attachments,
            nodes,
            gpu,
            irsa,
            metrics_policy,
            repo,
            repo_lifecycle,
            repo_policy,
            topic,
            topic_policy,
            ns,
            deny,
            secrets_endpoint,
            addon,
            subscription,
            deployment,
            db_credentials,
            cronjob,
            service,
            lb,
            helm,
            monitoring_deny,
            deploy_logs,
            deploy_role,
            deploy_project,
        ]
    )
