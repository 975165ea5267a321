// The gateway cluster as operators see it: the live gateway nodes (their lease in Redis) and how many DTLS
// sessions each serves, as of its last heartbeat.
import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { NodeInfo } from '@lwm2m/cluster';
import { ApiProblems } from '../problem/problem.dto';
import { CLUSTER_MEMBERSHIP } from '../tokens';

export class ClusterNodeDto {
  @ApiProperty({ description: 'Numeric node id, carried in every Connection ID the node issues' })
  id!: number;
  @ApiProperty({ description: 'NODE_ID: the name in registrations and events' })
  name!: string;
  @ApiProperty({ description: 'DTLS sessions the node serves' })
  sessions!: number;
  @ApiProperty({ description: 'Cluster link address (host:port)' })
  link!: string;
  @ApiProperty({ description: 'ms since epoch' })
  startedAt!: number;
  @ApiProperty({ description: 'Last heartbeat, ms since epoch' })
  seenAt!: number;
}

@ApiTags('cluster')
@ApiBearerAuth()
@ApiProblems(401, 403)
@Controller('api/v1/cluster')
export class ClusterController {
  constructor(
    @Inject(CLUSTER_MEMBERSHIP) private readonly membership: { live?: () => Promise<NodeInfo[]> },
  ) {}

  @Get('nodes')
  @ApiOperation({
    summary: 'The live gateway nodes',
    description: 'Empty when no gateway runs in cluster mode.',
  })
  @ApiOkResponse({ type: ClusterNodeDto, isArray: true })
  async nodes(): Promise<ClusterNodeDto[]> {
    const live = this.membership.live ? await this.membership.live() : [];
    return live.map((n) => ({
      id: n.id,
      name: n.name,
      sessions: n.sessions,
      link: `${n.linkHost}:${n.linkPort}`,
      startedAt: n.startedAt,
      seenAt: n.seenAt,
    }));
  }
}
